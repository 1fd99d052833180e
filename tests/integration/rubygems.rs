//! The RubyGems registry driven by the real `gem` (3.3) and `bundle` (2.3), each run with
//! its own HOME, GEM_HOME and bundler paths in a temp dir.
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::{Value, json};

use crate::support::TestApp;

/// One RubyGems user: a private HOME, GEM_HOME and bundler state.
struct Ruby {
    dir: tempfile::TempDir,
}

/// What a test gem says in its gemspec.
#[derive(Default)]
struct GemSpec<'a> {
    name: &'a str,
    version: &'a str,
    platform: Option<&'a str>,
    runtime: &'a [(&'a str, &'a str)],
    source_code_uri: Option<String>,
}

fn gem_install_args<'a>(source: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["install", "--clear-sources", "--source", source];
    all.extend_from_slice(args);
    all.push("--no-document");
    all
}

impl Ruby {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, program: &str, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
        let d = self.path();
        let gem_home = d.join("gems");
        Command::new(program)
            .args(args)
            .current_dir(cwd)
            .env("HOME", d.join("home"))
            .env("GEM_HOME", &gem_home)
            .env("GEM_PATH", &gem_home)
            .env("GEM_SPEC_CACHE", d.join("spec-cache"))
            .env("BUNDLE_PATH", d.join("bundle"))
            .env("BUNDLE_USER_HOME", d.join("bundle-home"))
            .env("BUNDLE_APP_CONFIG", d.join("bundle-config"))
            .env("BUNDLE_SILENCE_ROOT_WARNING", "1")
            .env_remove("GEM_HOST_API_KEY")
            .env_remove("BUNDLE_GEMFILE")
            .envs(env.iter().copied())
            .output()
            .unwrap_or_else(|e| {
                panic!("{program} could not run ({e}): run scripts/install-deps.sh")
            })
    }

    fn ok(&self, program: &str, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> String {
        let out = self.run(program, args, cwd, env);
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// `gem install --clear-sources --source SOURCE ARGS --no-document` into this GEM_HOME.
    fn gem_install(&self, source: &str, args: &[&str]) -> String {
        let args = gem_install_args(source, args);
        self.ok("gem", &args, self.path(), &[])
    }

    /// The same install, expected to fail; says why in stdout + stderr.
    fn gem_install_fails(&self, source: &str, args: &[&str]) -> String {
        let args = gem_install_args(source, args);
        self.fails("gem", &args, self.path(), &[])
    }

    /// Fails, and says so in stdout + stderr.
    fn fails(&self, program: &str, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> String {
        let out = self.run(program, args, cwd, env);
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "{program} {args:?} succeeded:\n{text}"
        );
        text
    }

    /// Writes a gem project and `gem build`s it; the path of the `.gem`.
    fn build(&self, spec: &GemSpec<'_>) -> PathBuf {
        let project = self.path().join(format!(
            "src-{}-{}-{}",
            spec.name,
            spec.version,
            spec.platform.unwrap_or("ruby")
        ));
        std::fs::create_dir_all(project.join("lib")).expect("project");
        let module = spec.module();
        std::fs::write(
            project.join(format!("lib/{}.rb", spec.name)),
            format!("module {module}\n  VERSION = \"{}\"\nend\n", spec.version),
        )
        .expect("lib");
        let mut gemspec = format!(
            "Gem::Specification.new do |s|\n  s.name = {:?}\n  s.version = {:?}\n  \
             s.summary = \"The {} gem\"\n  s.description = \"All about {}.\"\n  \
             s.authors = [\"Ada\"]\n  s.email = \"ada@example.com\"\n  s.license = \"MIT\"\n  \
             s.homepage = \"https://example.com/{}\"\n  s.files = [\"lib/{}.rb\"]\n  \
             s.required_ruby_version = \">= 2.5\"\n  \
             s.add_development_dependency \"rake-never-installed\", \">= 99\"\n",
            spec.name, spec.version, spec.name, spec.name, spec.name, spec.name
        );
        if let Some(p) = spec.platform {
            gemspec.push_str(&format!("  s.platform = {p:?}\n"));
        }
        for (dep, req) in spec.runtime {
            gemspec.push_str(&format!("  s.add_runtime_dependency {dep:?}, {req:?}\n"));
        }
        if let Some(uri) = &spec.source_code_uri {
            gemspec.push_str(&format!(
                "  s.metadata = {{ \"source_code_uri\" => {uri:?} }}\n"
            ));
        }
        gemspec.push_str("end\n");
        std::fs::write(project.join(format!("{}.gemspec", spec.name)), gemspec).expect("gemspec");
        self.ok(
            "gem",
            &["build", &format!("{}.gemspec", spec.name)],
            &project,
            &[],
        );
        let file = match spec.platform {
            Some(p) => format!("{}-{}-{p}.gem", spec.name, spec.version),
            None => format!("{}-{}.gem", spec.name, spec.version),
        };
        project.join(file)
    }

    fn push(&self, app: &TestApp, owner: &str, key: &str, gem: &Path) -> Output {
        let host = format!("{}/rubygems/{owner}", app.url);
        self.run(
            "gem",
            &["push", "--host", &host, &gem.display().to_string()],
            self.path(),
            &[("GEM_HOST_API_KEY", key)],
        )
    }

    fn push_ok(&self, app: &TestApp, owner: &str, key: &str, gem: &Path) -> String {
        let out = self.push(app, owner, key, gem);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && text.contains("Successfully registered gem"),
            "gem push failed:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// `bundle install` (or another bundle command) in a project whose Gemfile names `source`.
    fn bundle(&self, project: &Path, args: &[&str]) -> String {
        let gemfile = project.join("Gemfile");
        let gemfile = gemfile.display().to_string();
        self.ok(
            "bundle",
            args,
            project,
            &[("BUNDLE_GEMFILE", gemfile.as_str())],
        )
    }
}

impl GemSpec<'_> {
    /// `my_tool` → `MyTool`.
    fn module(&self) -> String {
        self.name
            .split(['_', '-'])
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// The source URL with credentials in it, as a Gemfile or `gem --source` takes it.
fn source(app: &TestApp, owner: &str, user: &str, token: &str) -> String {
    format!(
        "http://{user}:{token}@127.0.0.1:{}/rubygems/{owner}/",
        app.port
    )
}

fn lock_has(project: &Path, line: &str) -> bool {
    std::fs::read_to_string(project.join("Gemfile.lock"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.trim() == line)
}

fn requests(app: &TestApp, path_part: &str) -> usize {
    app.log().lines().filter(|l| l.contains(path_part)).count()
}

/// The core story: push (with a dependency on another pushed gem), 409 on a repush,
/// `gem install` from a clean GEM_HOME and `require`, `bundle install` on the compact index,
/// `bundle update` after a new version, a prerelease, a platform gem, `gem yank` and what
/// bundler resolves then, and what GraphQL shows.
#[tokio::test]
async fn gem_push_install_bundle_update_and_yank_with_the_real_clients() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("alice");
    // tool's gemspec says `source_code_uri` is this repository: the package links to it.
    app.gql_ok(
        Some(&token),
        r#"mutation { createRepository(input: {ownerLogin: "alice", name: "tool"}) { repository { id } } }"#,
        json!({}),
    )
    .await;
    let ruby = Ruby::new();
    let base = ruby.build(&GemSpec {
        name: "base",
        version: "1.0.0",
        ..Default::default()
    });
    let tool_spec = |version: &'static str, platform: Option<&'static str>| GemSpec {
        name: "tool",
        version,
        platform,
        runtime: &[("base", "~> 1.0")],
        source_code_uri: Some(format!("{}/alice/tool", app.url)),
    };
    let tool = ruby.build(&tool_spec("1.0.0", None));
    let pushed = ruby.push_ok(&app, "alice", &token, &base);
    assert!(
        pushed.contains("Successfully registered gem: base (1.0.0)"),
        "{pushed}"
    );
    ruby.push_ok(&app, "alice", &token, &tool);

    // The same version and platform again: 409, in words gem prints.
    let again = ruby.push(&app, "alice", &token, &tool);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains("Repushing of gem versions is not allowed"),
        "{said}"
    );

    // gem install from a clean GEM_HOME, then require.
    let src = source(&app, "alice", "alice", &token);
    let installer = Ruby::new();
    installer.gem_install(&src, &["tool", "-v", "1.0.0"]);
    let required = installer.ok(
        "ruby",
        &[
            "-e",
            "require 'tool'; require 'base'; print Tool::VERSION, ' ', Base::VERSION",
        ],
        installer.path(),
        &[],
    );
    assert_eq!(required, "1.0.0 1.0.0");
    assert!(
        requests(&app, "/rubygems/alice/info/tool") > 0,
        "gem used the compact index"
    );
    assert!(
        requests(
            &app,
            "/rubygems/alice/quick/Marshal.4.8/tool-1.0.0.gemspec.rz"
        ) > 0,
        "gem fetched the Marshal spec"
    );

    // bundle install from a Gemfile naming Packyard, resolving the dependency.
    let project = ruby.path().join("app");
    std::fs::create_dir_all(&project).expect("app");
    std::fs::write(
        project.join("Gemfile"),
        format!("source {:?}\ngem \"tool\"\n", src.trim_end_matches('/')),
    )
    .expect("Gemfile");
    ruby.bundle(&project, &["install"]);
    assert!(lock_has(&project, "tool (1.0.0)"), "locked tool");
    assert!(
        lock_has(&project, "base (1.0.0)"),
        "resolved the dependency"
    );
    assert!(
        lock_has(&project, "base (~> 1.0)"),
        "tool's runtime dependency"
    );
    assert!(requests(&app, "/rubygems/alice/versions") > 0);
    assert_eq!(
        requests(&app, "/api/v1/dependencies") + requests(&app, "specs.4.8.gz"),
        0,
        "bundler stayed on the compact index"
    );

    // A new version: `bundle update` sees it through the tail of /versions.
    let versions_before = app.get(Some(&token), "/rubygems/alice/versions").await;
    let before = versions_before.bytes().await.expect("versions");
    ruby.push_ok(
        &app,
        "alice",
        &token,
        &ruby.build(&tool_spec("1.1.0", None)),
    );
    let after = app
        .get(Some(&token), "/rubygems/alice/versions")
        .await
        .bytes()
        .await
        .expect("versions");
    assert!(after.starts_with(&before), "/versions only grew at its end");
    ruby.bundle(&project, &["update", "tool"]);
    assert!(lock_has(&project, "tool (1.1.0)"), "updated to 1.1.0");

    // A prerelease is not picked unless asked for.
    ruby.push_ok(
        &app,
        "alice",
        &token,
        &ruby.build(&tool_spec("2.0.0.pre1", None)),
    );
    ruby.bundle(&project, &["update", "tool"]);
    assert!(lock_has(&project, "tool (1.1.0)"), "prerelease skipped");
    let pre = Ruby::new();
    pre.gem_install(&src, &["tool", "--pre"]);
    assert!(pre.path().join("gems/gems/tool-2.0.0.pre1").is_dir());

    // A platform gem: a second file of 1.1.0, installed on this (x86_64-linux) machine.
    let native = ruby.build(&tool_spec("1.1.0", Some("x86_64-linux")));
    let said = ruby.push_ok(&app, "alice", &token, &native);
    assert!(said.contains("tool (1.1.0-x86_64-linux)"), "{said}");
    let native_install = Ruby::new();
    native_install.gem_install(&src, &["tool", "-v", "1.1.0"]);
    assert!(
        native_install
            .path()
            .join("gems/gems/tool-1.1.0-x86_64-linux")
            .is_dir(),
        "the platform gem was chosen"
    );
    let info = app.get(Some(&token), "/rubygems/alice/info/tool").await;
    let info = info.text().await.expect("info");
    assert!(
        info.contains("\n1.1.0-x86_64-linux base:~> 1.0|checksum:"),
        "{info}"
    );
    assert!(
        !info.contains("rake-never-installed"),
        "no development dependencies"
    );

    // gem yank 1.1.0 (every platform): bundler resolves 1.0.0 again; the .gem is gone.
    let host = format!("{}/rubygems/alice", app.url);
    let yanked = ruby.ok(
        "gem",
        &["yank", "tool", "-v", "1.1.0", "--host", &host],
        ruby.path(),
        &[("GEM_HOST_API_KEY", token.as_str())],
    );
    assert!(yanked.contains("Successfully deleted gem"), "{yanked}");
    let versions = app
        .get(Some(&token), "/rubygems/alice/versions")
        .await
        .text()
        .await
        .expect("versions");
    assert!(versions.contains("\ntool -1.1.0 "), "{versions}");
    assert!(
        versions.contains("\ntool -1.1.0-x86_64-linux "),
        "{versions}"
    );
    assert_eq!(
        app.get(Some(&token), "/rubygems/alice/gems/tool-1.1.0.gem")
            .await
            .status(),
        404
    );
    // A fresh resolve (bundler also resolves from gems it has installed, as with
    // rubygems.org): the yanked version is gone from the index.
    let fresh = Ruby::new();
    let fresh_project = fresh.path().join("app");
    std::fs::create_dir_all(&fresh_project).expect("app");
    std::fs::copy(project.join("Gemfile"), fresh_project.join("Gemfile")).expect("Gemfile");
    fresh.bundle(&fresh_project, &["install"]);
    assert!(
        lock_has(&fresh_project, "tool (1.0.0)"),
        "yanked version not resolved"
    );
    // The client that saw 1.1.0 before brings its cached /versions up to date from the
    // tail: byte for byte the server's file (bundler checked it against the ETag).
    ruby.bundle(&project, &["update", "tool"]);
    let cached = crate::support::files_under(&ruby.path().join("bundle-home"))
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "versions"))
        .expect("bundler's cached /versions");
    assert_eq!(
        std::fs::read_to_string(cached).expect("cached"),
        versions,
        "the tail appended to bundler's copy is the server's file"
    );

    // The Marshal full index and bundler's dependency API, as Ruby itself loads them.
    let ruby_reads = |path: &str, script: &str| {
        let path = path.to_string();
        let script = script.to_string();
        let app = &app;
        let token = &token;
        let ruby = &ruby;
        async move {
            let bytes = app
                .get(Some(token), &path)
                .await
                .bytes()
                .await
                .expect("body");
            let file = ruby.path().join("fetched.bin");
            std::fs::write(&file, &bytes).expect("write");
            ruby.ok(
                "ruby",
                &["-e", &script, &file.display().to_string()],
                ruby.path(),
                &[],
            )
        }
    };
    let tuples = "print Marshal.load(Gem::Util.gunzip(File.binread(ARGV[0]))).map { |n, v, p| [n, v.to_s, p].join('-') }.sort.join(',')";
    assert_eq!(
        ruby_reads("/rubygems/alice/specs.4.8.gz", tuples).await,
        "base-1.0.0-ruby,tool-1.0.0-ruby"
    );
    assert_eq!(
        ruby_reads("/rubygems/alice/latest_specs.4.8.gz", tuples).await,
        "base-1.0.0-ruby,tool-1.0.0-ruby"
    );
    assert_eq!(
        ruby_reads("/rubygems/alice/prerelease_specs.4.8.gz", tuples).await,
        "tool-2.0.0.pre1-ruby"
    );
    let deps = ruby_reads(
        "/rubygems/alice/api/v1/dependencies?gems=tool,nope",
        "print Marshal.load(File.binread(ARGV[0])).map { |h| [h[:name], h[:number], h[:platform], h[:dependencies].inspect].join(' ') }.join(';')",
    )
    .await;
    assert_eq!(
        deps,
        r#"tool 1.0.0 ruby [["base", "~> 1.0"]];tool 2.0.0.pre1 ruby [["base", "~> 1.0"]]"#
    );

    // GraphQL: the gem with its versions, description, license, downloads and link.
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "alice", packageType: RUBYGEMS, name: "tool") {
                versions { nodes { version yanked preRelease license readme summary authors files { nodes { name url } } } }
                repository { name } statistics { downloadsTotalCount } } }"#,
            json!({}),
        )
        .await;
    let nodes = data["package"]["versions"]["nodes"]
        .as_array()
        .expect("versions")
        .clone();
    let v = |name: &str| -> Value {
        nodes
            .iter()
            .find(|n| n["version"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}: {nodes:?}"))
    };
    assert_eq!(data["package"]["repository"]["name"], "tool");
    assert_eq!(v("1.0.0")["license"], "MIT");
    assert_eq!(v("1.0.0")["readme"], "All about tool.");
    assert_eq!(v("1.0.0")["summary"], "The tool gem");
    assert_eq!(v("1.0.0")["authors"], json!(["Ada"]));
    assert_eq!(v("1.1.0")["yanked"], true);
    assert_eq!(
        v("1.1.0")["files"]["nodes"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(v("2.0.0.pre1")["preRelease"], true);
    assert_eq!(
        v("1.0.0")["files"]["nodes"][0]["url"],
        format!("{}/rubygems/alice/gems/tool-1.0.0.gem", app.url)
    );
    // A yank is undone through GraphQL: 1.1.0 is listed and downloads again.
    let id = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "alice", packageType: RUBYGEMS, name: "tool") { version(version: "1.1.0") { id } } }"#,
            json!({}),
        )
        .await["package"]["version"]["id"]
        .clone();
    app.gql_ok(
        Some(&token),
        r#"mutation($v: ID!) { unyankPackageVersion(input: {packageVersionId: $v}) { packageVersion { yanked } } }"#,
        json!({"v": id}),
    )
    .await;
    let info = app
        .get(Some(&token), "/rubygems/alice/info/tool")
        .await
        .text()
        .await
        .expect("info");
    assert!(info.contains("\n1.1.0 base:~> 1.0|"), "{info}");
    // /versions catches up at its end, so a bundler that saw the yank sees 1.1.0 again.
    let caught_up = app
        .get(Some(&token), "/rubygems/alice/versions")
        .await
        .text()
        .await
        .expect("versions");
    assert!(caught_up.starts_with(&versions), "only appended");
    assert!(
        caught_up[versions.len()..].starts_with("tool 1.1.0 "),
        "{caught_up}"
    );
    let said = fresh.bundle(&fresh_project, &["update", "tool", "--verbose"]);
    assert!(
        lock_has(&fresh_project, "tool (1.1.0-x86_64-linux)"),
        "bundler sees the unyanked version (its native gem, on this machine): {said}\n{}",
        std::fs::read_to_string(fresh_project.join("Gemfile.lock")).unwrap_or_default()
    );
    assert_eq!(
        app.get(Some(&token), "/rubygems/alice/gems/tool-1.1.0.gem")
            .await
            .status(),
        200
    );
    // `gem yank --platform`: one platform of several leaves; the other stays installable.
    let yanked = ruby.ok(
        "gem",
        &[
            "yank",
            "tool",
            "-v",
            "1.1.0",
            "--platform",
            "x86_64-linux",
            "--host",
            &host,
        ],
        ruby.path(),
        &[("GEM_HOST_API_KEY", token.as_str())],
    );
    assert!(yanked.contains("Successfully deleted gem"), "{yanked}");
    let info = app
        .get(Some(&token), "/rubygems/alice/info/tool")
        .await
        .text()
        .await
        .expect("info");
    assert!(
        info.contains("\n1.1.0 base:~> 1.0|") && !info.contains("1.1.0-x86_64-linux"),
        "{info}"
    );
    assert_eq!(
        app.get(
            Some(&token),
            "/rubygems/alice/gems/tool-1.1.0-x86_64-linux.gem"
        )
        .await
        .status(),
        404
    );
    let ruby_only = Ruby::new();
    ruby_only.gem_install(&src, &["tool", "-v", "1.1.0"]);
    assert!(
        ruby_only.path().join("gems/gems/tool-1.1.0").is_dir(),
        "the ruby platform is what is left"
    );
    // The JSON API and /names.
    let gem: Value = app
        .get(Some(&token), "/rubygems/alice/api/v1/gems/tool.json")
        .await
        .json()
        .await
        .expect("gem json");
    assert_eq!(
        (&gem["name"], &gem["version"]),
        (&json!("tool"), &json!("1.1.0"))
    );
    assert_eq!(gem["dependencies"]["runtime"][0]["requirements"], "~> 1.0");
    assert_eq!(gem["licenses"], json!(["MIT"]));
    let list: Value = app
        .get(Some(&token), "/rubygems/alice/api/v1/versions/tool.json")
        .await
        .json()
        .await
        .expect("versions json");
    let numbers: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v["number"].as_str())
        .collect();
    assert_eq!(numbers, ["2.0.0.pre1", "1.1.0", "1.0.0"]);
    let names = app
        .get(Some(&token), "/rubygems/alice/names")
        .await
        .text()
        .await
        .expect("names");
    assert_eq!(names, "---\nbase\ntool\n");
    let downloads = data["package"]["statistics"]["downloadsTotalCount"]
        .as_i64()
        .expect("count");
    assert!(downloads >= 3, "installs counted: {downloads}");
}

/// Who sees what: anonymous installs of a public gem, a private gem that is invisible to
/// outsiders (401 with a Basic challenge anonymously, 404 signed in), a read-only token
/// that installs but can't push, `gem signin`'s API-key endpoint, and hostile uploads
/// refused with nothing stored.
#[tokio::test]
async fn private_gems_read_only_tokens_and_hostile_uploads() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("olga");
    app.create_user_with_password("pete", "correct horse battery");
    let outsider = app.token("pete", "read:packages");
    let reader = app.token("olga", "read:packages");
    let ruby = Ruby::new();
    let secret = ruby.build(&GemSpec {
        name: "secret",
        version: "0.1.0",
        ..Default::default()
    });
    let open = ruby.build(&GemSpec {
        name: "open",
        version: "0.1.0",
        ..Default::default()
    });
    ruby.push_ok(&app, "olga", &token, &secret);
    ruby.push_ok(&app, "olga", &token, &open);

    // A read-only token may install, not push (and the 403 doesn't start gem's sign-in).
    let denied = ruby.push(
        &app,
        "olga",
        &reader,
        &ruby.build(&GemSpec {
            name: "secret",
            version: "0.2.0",
            ..Default::default()
        }),
    );
    let said = String::from_utf8_lossy(&denied.stdout).to_string();
    assert!(!said.contains("Successfully"), "{said}");
    assert!(!said.contains("The API key doesn't have access"), "{said}");
    assert!(
        said.contains("write:packages"),
        "refused before the upload: {said}"
    );
    let installer = Ruby::new();
    installer.gem_install(&source(&app, "olga", "olga", &reader), &["secret"]);

    // `bundle config set SOURCE USER:TOKEN` instead of credentials in the Gemfile.
    let configured = Ruby::new();
    let plain_source = format!("http://127.0.0.1:{}/rubygems/olga/", app.port);
    let project = configured.path().join("app");
    std::fs::create_dir_all(&project).expect("app");
    std::fs::write(
        project.join("Gemfile"),
        format!(
            "source {:?}\ngem \"secret\"\n",
            plain_source.trim_end_matches('/')
        ),
    )
    .expect("Gemfile");
    configured.bundle(
        &project,
        &[
            "config",
            "set",
            "--global",
            &plain_source,
            &format!("olga:{reader}"),
        ],
    );
    configured.bundle(&project, &["install"]);
    assert!(
        lock_has(&project, "secret (0.1.0)"),
        "installed with configured credentials"
    );

    // Private: anonymous gets the Basic challenge, an outsider a 404 — for a missing gem alike.
    for path in ["/rubygems/olga/info/secret", "/rubygems/olga/info/missing"] {
        let anon = app.get(None, path).await;
        assert_eq!(anon.status(), 401, "{path}");
        assert!(
            anon.headers()["www-authenticate"]
                .to_str()
                .expect("challenge")
                .starts_with("Basic")
        );
        assert_eq!(app.get(Some(&outsider), path).await.status(), 404, "{path}");
    }
    assert_eq!(
        app.get(Some(&outsider), "/rubygems/olga/gems/secret-0.1.0.gem")
            .await
            .status(),
        404
    );
    let theirs = app
        .get(Some(&outsider), "/rubygems/olga/versions")
        .await
        .text()
        .await
        .expect("versions");
    assert!(!theirs.contains("secret"), "{theirs}");
    let outsider_install = Ruby::new();
    outsider_install.gem_install_fails(&source(&app, "olga", "pete", &outsider), &["secret"]);

    // Public: anonymous `gem install` and `bundle install` work.
    let id = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "olga", packageType: RUBYGEMS, name: "open") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .clone();
    app.gql_ok(
        Some(&token),
        r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#,
        json!({"p": id}),
    )
    .await;
    let anon_source = format!("{}/rubygems/olga/", app.url);
    let anonymous = Ruby::new();
    anonymous.gem_install(&anon_source, &["open"]);
    let project = anonymous.path().join("app");
    std::fs::create_dir_all(&project).expect("app");
    std::fs::write(
        project.join("Gemfile"),
        format!(
            "source {:?}\ngem \"open\"\n",
            anon_source.trim_end_matches('/')
        ),
    )
    .expect("Gemfile");
    anonymous.bundle(&project, &["install"]);
    assert!(lock_has(&project, "open (0.1.0)"));
    let public_view = app
        .get(None, "/rubygems/olga/versions")
        .await
        .text()
        .await
        .expect("versions");
    assert!(public_view.contains("\nopen 0.1.0 ") && !public_view.contains("secret"));

    // The index files: Range answers carry the ETag of the whole file; 304s.
    let whole = app.get(Some(&token), "/rubygems/olga/versions").await;
    let etag = whole.headers()["etag"].to_str().expect("etag").to_string();
    let body = whole.bytes().await.expect("body");
    let md5 = format!("\"{:032x}\"", md5_of(&body));
    assert_eq!(etag, md5, "ETag is the quoted MD5 of the file");
    let tail = app
        .http
        .get(format!("{}/rubygems/olga/versions", app.url))
        .bearer_auth(&token)
        .header("range", format!("bytes={}-", body.len() - 1))
        .send()
        .await
        .expect("range");
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.headers()["etag"].to_str().expect("etag"), md5);
    assert!(tail.headers().contains_key("repr-digest"));
    assert_eq!(tail.bytes().await.expect("tail").len(), 1);
    let unchanged = app
        .http
        .get(format!("{}/rubygems/olga/versions", app.url))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("304");
    assert_eq!(unchanged.status(), 304);
    let probe = app
        .http
        .head(format!("{}/rubygems/olga/gems/open-0.1.0.gem", app.url))
        .send()
        .await
        .expect("head");
    assert_eq!(probe.status(), 200);
    assert!(probe.headers().contains_key("content-length"));
    let root = app
        .http
        .head(format!("{}/rubygems/olga/", app.url))
        .send()
        .await
        .expect("head");
    assert!(root.status().is_success());

    // `gem signin`: Basic user:password gives a key that pushes.
    let key = app
        .http
        .get(format!("{}/rubygems/pete/api/v1/api_key", app.url))
        .basic_auth("pete", Some("correct horse battery"))
        .send()
        .await
        .expect("api_key");
    assert_eq!(key.status(), 200);
    let key = key.text().await.expect("key");
    ruby.push_ok(
        &app,
        "pete",
        key.trim(),
        &ruby.build(&GemSpec {
            name: "petes",
            version: "1.0.0",
            ..Default::default()
        }),
    );
    let wrong = app
        .http
        .get(format!("{}/rubygems/pete/api/v1/api_key", app.url))
        .basic_auth("pete", Some("wrong"))
        .send()
        .await
        .expect("api_key");
    assert_eq!(wrong.status(), 401);

    // Hostile uploads: garbage, a metadata bomb, a tampered checksum — refused, nothing stored.
    let push_raw = |body: Vec<u8>| {
        let req = app
            .http
            .post(format!("{}/rubygems/olga/api/v1/gems", app.url))
            .header("authorization", token.clone())
            .body(body);
        async move { req.send().await.expect("push") }
    };
    let garbage = push_raw(b"not a gem at all".to_vec()).await;
    assert_eq!(garbage.status(), 400);
    let bomb = push_raw(hostile_gem("bomb", true)).await;
    assert_eq!(bomb.status(), 400);
    assert!(bomb.text().await.expect("text").contains("larger than"));
    let tampered = push_raw(hostile_gem("tampered", false)).await;
    assert_eq!(tampered.status(), 422);
    for name in ["bomb", "tampered"] {
        let found = app
            .graphql(
                Some(&token),
                &format!(r#"{{ package(owner: "olga", packageType: RUBYGEMS, name: "{name}") {{ id }} }}"#),
                json!({}),
            )
            .await;
        assert!(found["data"]["package"].is_null(), "{name} stored: {found}");
        assert_eq!(
            app.get(Some(&token), &format!("/rubygems/olga/info/{name}"))
                .await
                .status(),
            404
        );
    }
}

fn md5_of(b: &[u8]) -> u128 {
    use md5::Digest;
    u128::from_be_bytes(md5::Md5::digest(b).into())
}

/// A `.gem` whose gemspec decompresses past the 2 MiB bound (`bomb`), or whose
/// checksums.yaml doesn't match its data.
fn hostile_gem(name: &str, bomb: bool) -> Vec<u8> {
    use std::io::Write;
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    };
    let spec = format!(
        "--- !ruby/object:Gem::Specification\nname: {name}\nversion: !ruby/object:Gem::Version\n  version: 1.0.0\nplatform: ruby\nsummary: x\n"
    );
    let metadata = if bomb {
        let mut big = spec.into_bytes();
        big.extend(std::iter::repeat_n(b'#', 3 * 1024 * 1024));
        gz(&big)
    } else {
        gz(spec.as_bytes())
    };
    let data = gz(b"data");
    let sums = format!(
        "---\nSHA256:\n  metadata.gz: {}\n  data.tar.gz: {}\n",
        "00".repeat(32),
        "00".repeat(32)
    );
    let mut b = tar::Builder::new(Vec::new());
    for (entry, bytes) in [
        ("metadata.gz", metadata),
        ("data.tar.gz", data),
        ("checksums.yaml.gz", gz(sums.as_bytes())),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o444);
        h.set_cksum();
        b.append_data(&mut h, entry, bytes.as_slice()).expect("tar");
    }
    b.into_inner().expect("tar")
}
