//! The npm registry driven by the real `npm` CLI (and yarn v1, pnpm), each run with its own
//! userconfig and cache.
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::{Value, json};

use crate::support::{TestApp, files_under};

/// One npm user: a private `.npmrc` and cache, pointed at the test server.
pub(crate) struct Npm {
    dir: tempfile::TempDir,
    registry: String,
}

fn tool(name: &str) -> PathBuf {
    let local = TestApp::repo_root()
        .join(".tools/node/node_modules/.bin")
        .join(name);
    if local.exists() {
        return local;
    }
    assert!(
        name == "npm",
        "{name} is missing: run scripts/install-deps.sh"
    );
    PathBuf::from("npm")
}

impl Npm {
    pub(crate) fn new(app: &TestApp, scope: &str, token: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = format!("{}/npm/", app.url);
        let host = registry.trim_start_matches("http:");
        let mut rc = format!(
            "@{scope}:registry={registry}\nfund=false\naudit=false\nupdate-notifier=false\n"
        );
        if let Some(t) = token {
            rc.push_str(&format!("{host}:_authToken={t}\n"));
        }
        std::fs::write(dir.path().join("npmrc"), rc).expect("npmrc");
        Self { dir, registry }
    }

    fn cmd(&self, program: &str, args: &[&str], cwd: &Path) -> Output {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        Command::new(tool(program))
            .args(args)
            .current_dir(cwd)
            .env("HOME", &home)
            .env("npm_config_userconfig", self.dir.path().join("npmrc"))
            .env("npm_config_cache", self.dir.path().join("cache"))
            .env("YARN_CACHE_FOLDER", self.dir.path().join("yarn-cache"))
            .env("npm_config_store_dir", self.dir.path().join("pnpm-store"))
            .env_remove("NPM_CONFIG_REGISTRY")
            .output()
            .unwrap_or_else(|e| {
                panic!("{program} could not run ({e}): run scripts/install-deps.sh")
            })
    }

    fn npm(&self, args: &[&str], cwd: &Path) -> Output {
        self.cmd("npm", args, cwd)
    }

    pub(crate) fn ok(&self, args: &[&str], cwd: &Path) -> String {
        let out = self.npm(args, cwd);
        assert!(
            out.status.success(),
            "npm {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub(crate) fn fails(&self, args: &[&str], cwd: &Path) -> String {
        let out = self.npm(args, cwd);
        assert!(
            !out.status.success(),
            "npm {args:?} should have failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Writes a package directory.
pub(crate) fn package(dir: &Path, name: &str, version: &str, extra: Value) -> PathBuf {
    let pkg = dir.join(format!("{}-{version}", name.replace(['@', '/'], "_")));
    std::fs::create_dir_all(&pkg).expect("pkg dir");
    let mut manifest = json!({"name": name, "version": version, "main": "index.js", "license": "MIT", "description": format!("{name} for tests")});
    if let (Value::Object(m), Value::Object(e)) = (&mut manifest, extra) {
        m.extend(e);
    }
    std::fs::write(pkg.join("package.json"), manifest.to_string()).expect("package.json");
    std::fs::write(
        pkg.join("index.js"),
        format!("module.exports = () => '{name}@{version}';\n"),
    )
    .expect("index.js");
    std::fs::write(
        pkg.join("README.md"),
        format!("# {name}\n\nThe readme of {version}.\n"),
    )
    .expect("README");
    pkg
}

fn consumer(dir: &Path) -> PathBuf {
    let app = dir.join(format!("app-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&app).expect("app dir");
    std::fs::write(
        app.join("package.json"),
        r#"{"name":"app","version":"1.0.0","private":true}"#,
    )
    .expect("package.json");
    app
}

fn node_require(app: &Path, name: &str) -> String {
    let out = Command::new("node")
        .arg("-e")
        .arg(format!("process.stdout.write(require('{name}')())"))
        .current_dir(app)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `PACKYARD_NPM_TARBALL_BYTES` caps a publish's tarball while it streams in: 413 in npm's
/// shape, and nothing stored.
#[tokio::test]
async fn npm_tarball_limit() {
    use base64::Engine;
    let app = TestApp::spawn_with(&[("PACKYARD_NPM_TARBALL_BYTES", "4096")]).await;
    let token = app.user_with_token("lim");
    let tarball: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let doc = json!({
        "name": "@lim/big",
        "versions": {"1.0.0": {"name": "@lim/big", "version": "1.0.0"}},
        "dist-tags": {"latest": "1.0.0"},
        "_attachments": {"@lim/big-1.0.0.tgz": {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(&tarball),
            "length": tarball.len(),
        }},
    });
    let resp = app
        .http
        .put(format!("{}/npm/@lim%2fbig", app.url))
        .bearer_auth(&token)
        .json(&doc)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 413);
    assert!(
        resp.json::<Value>().await.expect("json")["error"]
            .as_str()
            .expect("error")
            .contains("4096")
    );
    assert_eq!(app.get(Some(&token), "/npm/@lim%2fbig").await.status(), 404);
    let stored: Vec<PathBuf> = files_under(&app.data_dir.path().join("blobs"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("sha256"))
        .collect();
    assert!(stored.is_empty(), "{stored:?}");
}

#[tokio::test]
async fn npm_cli_lifecycle() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("nora");
    let npm = Npm::new(&app, "nora", Some(&token));
    let work = npm.path().to_path_buf();

    // Publish, then publishing the same version again is refused.
    let v1 = package(
        &work,
        "@nora/greet",
        "1.0.0",
        json!({"repository": {"type": "git", "url": "https://example.com/x.git"},
               "homepage": "https://greet.example.com",
               "author": {"name": "Nora", "email": "nora@example.com"}}),
    );
    npm.ok(&["publish"], &v1);
    let again = npm.fails(&["publish"], &v1);
    assert!(
        again.contains("previously published") || again.contains("409"),
        "{again}"
    );
    let beta = package(&work, "@nora/greet", "1.1.0-beta.1", json!({}));
    npm.ok(&["publish", "--tag", "beta"], &beta);

    // view
    let view: Value =
        serde_json::from_str(&npm.ok(&["view", "@nora/greet", "--json"], &work)).expect("json");
    assert_eq!(
        view["dist-tags"],
        json!({"latest": "1.0.0", "beta": "1.1.0-beta.1"})
    );
    assert_eq!(view["description"], "@nora/greet for tests");
    // dist.fileCount / unpackedSize are measured from the tarball's contents.
    let unpacked: u64 = ["package.json", "index.js", "README.md"]
        .iter()
        .map(|f| std::fs::metadata(v1.join(f)).expect("file").len())
        .sum();
    assert_eq!(view["dist"]["fileCount"], 3);
    assert_eq!(view["dist"]["unpackedSize"], unpacked);
    assert!(
        view["dist"]["tarball"]
            .as_str()
            .expect("tarball")
            .starts_with(&format!("{}/npm/@nora/greet/-/", app.url))
    );
    assert!(
        view["dist"]["integrity"]
            .as_str()
            .expect("integrity")
            .starts_with("sha512-")
    );

    // install and require from a fresh project (with its own cache: publishing cached the
    // tarball in the publisher's)
    let installer = Npm::new(&app, "nora", Some(&token));
    let consumer_dir = consumer(installer.path());
    installer.ok(&["install", "@nora/greet"], &consumer_dir);
    assert_eq!(
        node_require(&consumer_dir, "@nora/greet"),
        "@nora/greet@1.0.0"
    );

    // dist-tags
    npm.ok(&["dist-tag", "add", "@nora/greet@1.0.0", "stable"], &work);
    let tags = npm.ok(&["dist-tag", "ls", "@nora/greet"], &work);
    assert!(
        tags.contains("stable: 1.0.0") && tags.contains("beta: 1.1.0-beta.1"),
        "{tags}"
    );
    npm.ok(&["dist-tag", "rm", "@nora/greet", "stable"], &work);
    assert!(
        !npm.ok(&["dist-tag", "ls", "@nora/greet"], &work)
            .contains("stable")
    );
    let rm_latest = app
        .http
        .delete(format!(
            "{}/npm/-/package/@nora%2fgreet/dist-tags/latest",
            app.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(rm_latest.status(), 400);
    let range_tag = app
        .http
        .put(format!(
            "{}/npm/-/package/@nora%2fgreet/dist-tags/1.2",
            app.url
        ))
        .bearer_auth(&token)
        .json(&"1.0.0")
        .send()
        .await
        .expect("put");
    assert_eq!(range_tag.status(), 400);

    // deprecate
    npm.ok(&["deprecate", "@nora/greet@1.0.0", "use 2.x"], &work);
    assert_eq!(
        npm.ok(&["view", "@nora/greet@1.0.0", "deprecated"], &work)
            .trim(),
        "use 2.x"
    );

    // search and whoami talk to the default registry: point them at ours.
    let registry = npm.registry.clone();
    assert_eq!(
        npm.ok(&["whoami", "--registry", &registry], &work).trim(),
        "nora"
    );
    let found = npm.ok(
        &["search", "--registry", &registry, "--json", "greet"],
        &work,
    );
    let found: Value = serde_json::from_str(&found).expect("json");
    assert_eq!(found[0]["name"], "@nora/greet");

    // GraphQL sees the package with versions, tags, README, license and downloads.
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "nora", packageType: NPM, name: "greet") { tags { name version }
                 statistics { downloadsTotalCount }
                 version(version: "1.0.0") { readme license summary preRelease homepage authors files { nodes { name url } } }
                 versions { totalCount } } }"#,
            json!({}),
        )
        .await;
    let pkg = &data["package"];
    assert_eq!(pkg["versions"]["totalCount"], 2);
    assert!(
        pkg["statistics"]["downloadsTotalCount"]
            .as_i64()
            .expect("count")
            >= 1
    );
    assert!(
        pkg["version"]["readme"]
            .as_str()
            .expect("readme")
            .contains("The readme of 1.0.0")
    );
    assert_eq!(pkg["version"]["license"], "MIT");
    assert_eq!(pkg["version"]["homepage"], "https://greet.example.com");
    assert_eq!(
        pkg["version"]["authors"],
        json!(["Nora <nora@example.com>"])
    );
    assert_eq!(
        pkg["version"]["files"]["nodes"][0]["url"],
        format!("{}/npm/@nora/greet/-/greet-1.0.0.tgz", app.url)
    );
    assert!(
        pkg["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .any(|t| t["name"] == "beta")
    );

    // unpublish a version, then the whole package (restorable through GraphQL)
    npm.ok(&["unpublish", "@nora/greet@1.1.0-beta.1"], &work);
    let versions: Value =
        serde_json::from_str(&npm.ok(&["view", "@nora/greet", "versions", "--json"], &work))
            .expect("json");
    assert_eq!(versions, json!(["1.0.0"]));
    // Unpublishing the latest version: npm's document moves `latest` back, and we follow it.
    let v2 = package(&work, "@nora/greet", "2.0.0", json!({}));
    npm.ok(&["publish"], &v2);
    npm.ok(&["unpublish", "@nora/greet@2.0.0"], &work);
    let tags: Value =
        serde_json::from_str(&npm.ok(&["view", "@nora/greet", "dist-tags", "--json"], &work))
            .expect("json");
    assert_eq!(tags, json!({"latest": "1.0.0"}));
    npm.ok(&["unpublish", "@nora/greet", "--force"], &work);
    npm.fails(&["view", "@nora/greet"], &work);
    let deleted = app
        .gql_ok(
            Some(&token),
            r#"{ packages(state: DELETED, packageType: NPM) { nodes { id name } } }"#,
            json!({}),
        )
        .await;
    let id = deleted["packages"]["nodes"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(
        Some(&token),
        r#"mutation($id: ID!) { restorePackage(input: {packageId: $id}) { package { name } } }"#,
        json!({"id": id}),
    )
    .await;
    assert!(
        npm.ok(&["view", "@nora/greet", "version"], &work)
            .contains("1.0.0")
    );
}

#[tokio::test]
async fn npm_access_rules_and_other_clients() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("olive");
    let reader_token = app.token("olive", "read:packages");
    let owner = Npm::new(&app, "olive", Some(&token));
    let work = owner.path().to_path_buf();
    let private = package(&work, "@olive/secret", "1.0.0", json!({}));
    owner.ok(&["publish"], &private);
    let public = package(&work, "@olive/open", "2.0.0", json!({}));
    owner.ok(&["publish", "--access", "public"], &public);

    // Anonymous: the public package installs, the private one asks for credentials (as a
    // missing one does).
    let anonymous = Npm::new(&app, "olive", None);
    let dir = consumer(anonymous.path());
    anonymous.ok(&["install", "@olive/open"], &dir);
    assert_eq!(node_require(&dir, "@olive/open"), "@olive/open@2.0.0");
    let err = anonymous.fails(&["install", "@olive/secret"], &dir);
    assert!(err.contains("E401"), "{err}");
    let anon_publish = anonymous.fails(
        &["publish"],
        &package(anonymous.path(), "@olive/other", "1.0.0", json!({})),
    );
    assert!(
        anon_publish.contains("401")
            || anon_publish.contains("ENEEDAUTH")
            || anon_publish.contains("need auth"),
        "{anon_publish}"
    );

    // A read-only token installs but can't publish.
    let reader = Npm::new(&app, "olive", Some(&reader_token));
    let dir = consumer(reader.path());
    reader.ok(&["install", "@olive/secret"], &dir);
    let stored_before = files_under(&app.data_dir.path().join("blobs"));
    let denied = reader.fails(
        &["publish"],
        &package(reader.path(), "@olive/secret", "1.0.1", json!({})),
    );
    assert!(denied.contains("403"), "{denied}");
    // Refused before the tarball was received: nothing was stored.
    assert_eq!(
        files_under(&app.data_dir.path().join("blobs")),
        stored_before
    );

    // A package-lock made against Packyard installs again from a clean cache.
    assert!(dir.join("package-lock.json").exists());
    std::fs::remove_dir_all(dir.join("node_modules")).expect("rm node_modules");
    let fresh = Npm::new(&app, "olive", Some(&reader_token));
    fresh.ok(&["ci"], &dir);
    assert_eq!(node_require(&dir, "@olive/secret"), "@olive/secret@1.0.0");

    // yarn v1 and pnpm install from Packyard too.
    let yarn_dir = consumer(fresh.path());
    std::fs::write(
        yarn_dir.join(".npmrc"),
        std::fs::read_to_string(fresh.path().join("npmrc")).expect("rc"),
    )
    .expect("project npmrc");
    let out = fresh.cmd(
        "yarn",
        &[
            "add",
            "@olive/secret@1.0.0",
            "--non-interactive",
            "--no-progress",
        ],
        &yarn_dir,
    );
    assert!(
        out.status.success(),
        "yarn: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        node_require(&yarn_dir, "@olive/secret"),
        "@olive/secret@1.0.0"
    );
    let pnpm_dir = consumer(fresh.path());
    std::fs::write(
        pnpm_dir.join(".npmrc"),
        std::fs::read_to_string(fresh.path().join("npmrc")).expect("rc"),
    )
    .expect("project npmrc");
    let out = fresh.cmd("pnpm", &["add", "@olive/open@2.0.0"], &pnpm_dir);
    assert!(
        out.status.success(),
        "pnpm: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(node_require(&pnpm_dir, "@olive/open"), "@olive/open@2.0.0");
}

#[tokio::test]
async fn npm_protocol_details() {
    let app = TestApp::spawn().await;
    app.create_user_with_password("pete", "correct-horse");
    // npm login (legacy) sends exactly this.
    let login = app
        .http
        .put(format!("{}/npm/-/user/org.couchdb.user:pete", app.url))
        .json(&json!({"_id": "org.couchdb.user:pete", "name": "pete", "password": "correct-horse", "type": "user", "roles": []}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 201);
    let token = login.json::<Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();
    let npm = Npm::new(&app, "pete", Some(&token));
    assert_eq!(
        npm.ok(&["whoami", "--registry", &npm.registry.clone()], npm.path())
            .trim(),
        "pete"
    );
    // npm token list / revoke: a second token is listed, then revoked by its id.
    let other = app.token("pete", "read:packages");
    let registry = npm.registry.clone();
    let listed: Value = serde_json::from_str(&npm.ok(
        &["token", "list", "--json", "--registry", &registry],
        npm.path(),
    ))
    .expect("json");
    let listed = listed.as_array().expect("tokens");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let ro = listed
        .iter()
        .find(|t| t["readonly"] == true)
        .expect("the read-only token");
    assert!(other.starts_with(ro["token"].as_str().expect("prefix")));
    assert!(!ro["token"].as_str().expect("prefix").is_empty());
    let id = ro["id"].as_str().expect("id").to_string();
    npm.ok(
        &["token", "revoke", &id, "--registry", &registry],
        npm.path(),
    );
    assert_eq!(
        app.get(Some(&other), "/npm/-/whoami").await.status(),
        401,
        "the revoked token is refused"
    );
    let listed: Value = serde_json::from_str(&npm.ok(
        &["token", "list", "--json", "--registry", &registry],
        npm.path(),
    ))
    .expect("json");
    assert_eq!(listed.as_array().expect("tokens").len(), 1);
    assert_eq!(app.get(Some(&token), "/npm/-/whoami").await.status(), 200);

    let wrong = app
        .http
        .put(format!("{}/npm/-/user/org.couchdb.user:pete", app.url))
        .json(&json!({"name": "pete", "password": "wrong-password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), 401);
    assert!(wrong.json::<Value>().await.expect("json")["error"].is_string());

    let pkg = package(npm.path(), "@pete/tool", "0.1.0", json!({}));
    npm.ok(&["publish"], &pkg);
    // Packuments: both forms, ETag and 304.
    let full = app.get(Some(&token), "/npm/@pete%2ftool").await;
    assert_eq!(full.status(), 200);
    let etag = full.headers()["etag"].to_str().expect("etag").to_string();
    let doc: Value = full.json().await.expect("json");
    assert_eq!(doc["name"], "@pete/tool");
    assert!(
        doc["readme"]
            .as_str()
            .expect("readme")
            .contains("The readme of 0.1.0")
    );
    assert!(doc["time"]["0.1.0"].is_string());
    let cached = app
        .http
        .get(format!("{}/npm/@pete%2ftool", app.url))
        .bearer_auth(&token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(cached.status(), 304);
    let corgi = app
        .http
        .get(format!("{}/npm/@pete/tool", app.url))
        .bearer_auth(&token)
        .header(
            "Accept",
            "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8",
        )
        .send()
        .await
        .expect("get");
    assert_eq!(
        corgi.headers()["content-type"],
        "application/vnd.npm.install-v1+json"
    );
    let corgi: Value = corgi.json().await.expect("json");
    assert!(corgi.get("readme").is_none());
    assert!(
        corgi["versions"]["0.1.0"]["description"].is_null(),
        "abbreviated manifests drop descriptions"
    );
    assert!(corgi["versions"]["0.1.0"]["dist"]["shasum"].is_string());

    // Errors in npm's shape, and bad names.
    for (path, status) in [
        ("/npm/left-pad", 400),
        ("/npm/@nobody%2fx", 404),
        ("/npm/@pete%2fmissing", 404),
        ("/npm/@pete%2f..", 400),
    ] {
        let resp = app.get(Some(&token), path).await;
        assert_eq!(resp.status(), status, "{path}");
        assert!(
            resp.json::<Value>().await.expect("json")["error"].is_string(),
            "{path}"
        );
    }

    // A document whose tarball doesn't match its digests, or names another version, is
    // refused and nothing is published.
    let bad = json!({
        "name": "@pete/tool",
        "versions": {"0.2.0": {"name": "@pete/tool", "version": "0.2.0", "dist": {"shasum": "0000000000000000000000000000000000000000"}}},
        "dist-tags": {"latest": "0.2.0"},
        "_attachments": {"@pete/tool-0.2.0.tgz": {"content_type": "application/octet-stream", "data": "aGVsbG8=", "length": 5}},
    });
    let resp = app
        .http
        .put(format!("{}/npm/@pete%2ftool", app.url))
        .bearer_auth(&token)
        .json(&bad)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 400);
    let not_a_tarball = json!({
        "name": "@pete/tool",
        "versions": {"0.2.0": {"name": "@pete/tool", "version": "0.2.0"}},
        "dist-tags": {"latest": "0.2.0"},
        "_attachments": {"@pete/tool-0.2.0.tgz": {"content_type": "application/octet-stream", "data": "aGVsbG8=", "length": 5}},
    });
    let resp = app
        .http
        .put(format!("{}/npm/@pete%2ftool", app.url))
        .bearer_auth(&token)
        .json(&not_a_tarball)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 400);
    let doc: Value = app
        .get(Some(&token), "/npm/@pete%2ftool")
        .await
        .json()
        .await
        .expect("json");
    assert!(doc["versions"].get("0.2.0").is_none());

    // An update written against an old revision would unpublish what was published since
    // (the versions it leaves out): refused with 409, and nothing changes.
    let stale = doc.clone();
    let rev = stale["_rev"].as_str().expect("_rev").to_string();
    let next = package(npm.path(), "@pete/tool", "0.3.0", json!({}));
    npm.ok(&["publish"], &next);
    let resp = app
        .http
        .put(format!("{}/npm/@pete%2ftool/-rev/{rev}", app.url))
        .bearer_auth(&token)
        .json(&stale)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 409);
    assert!(
        resp.json::<Value>().await.expect("json")["error"]
            .as_str()
            .expect("error")
            .contains("conflict")
    );
    let doc: Value = app
        .get(Some(&token), "/npm/@pete%2ftool")
        .await
        .json()
        .await
        .expect("json");
    assert!(doc["versions"].get("0.3.0").is_some());
    // The current revision is accepted: this one deprecates 0.1.0.
    let mut fresh = doc.clone();
    fresh["versions"]["0.1.0"]["deprecated"] = json!("use 0.3");
    let rev = doc["_rev"].as_str().expect("_rev");
    let resp = app
        .http
        .put(format!("{}/npm/@pete%2ftool/-rev/{rev}", app.url))
        .bearer_auth(&token)
        .json(&fresh)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 200);
    let doc: Value = app
        .get(Some(&token), "/npm/@pete%2ftool")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(doc["versions"]["0.1.0"]["deprecated"], "use 0.3");
    assert!(doc["versions"].get("0.3.0").is_some());
    // Documents without a tarball stored no (empty) blob.
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert!(
        !files_under(&app.data_dir.path().join("blobs"))
            .iter()
            .any(|p| p.to_string_lossy().contains(empty))
    );
}

/// `--access restricted` keeps a package private even where the organization's default is
/// public, and a HEAD of a tarball (a mirror's probe) is not a download.
#[tokio::test]
async fn npm_access_restricted_and_head_probes() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("rita");
    app.create_org("open-org", "rita");
    app.gql_ok(Some(&token), r#"mutation { updateOrganizationPackageSettings(input: {organizationLogin: "open-org", defaultPackageVisibility: PUBLIC}) { organization { login } } }"#, json!({})).await;
    let npm = Npm::new(&app, "open-org", Some(&token));
    let restricted = package(npm.path(), "@open-org/kept", "1.0.0", json!({}));
    npm.ok(&["publish", "--access", "restricted"], &restricted);
    // The repository URL links case-insensitively, as GitHub's do.
    app.gql_ok(Some(&token), r#"mutation { createRepository(input: {ownerLogin: "open-org", name: "web"}) { repository { id } } }"#, json!({})).await;
    let default = package(
        npm.path(),
        "@open-org/shown",
        "1.0.0",
        json!({"repository": {"type": "git", "url": format!("git+{}/Open-Org/Web.git", app.url)}}),
    );
    npm.ok(&["publish"], &default);
    let linked = app.gql_ok(Some(&token), r#"{ package(owner: "open-org", packageType: NPM, name: "shown") { repository { name } } }"#, json!({})).await;
    assert_eq!(linked["package"]["repository"]["name"], "web");
    assert_eq!(app.get(None, "/npm/@open-org%2fkept").await.status(), 401);
    assert_eq!(app.get(None, "/npm/@open-org%2fshown").await.status(), 200);

    let url = format!("{}/npm/@open-org/shown/-/shown-1.0.0.tgz", app.url);
    let head = app.http.head(&url).send().await.expect("head");
    assert_eq!(head.status(), 200);
    assert!(head.headers()["content-length"] != "0");
    let count = || async {
        app.gql_ok(
            Some(&token),
            r#"{ package(owner: "open-org", packageType: NPM, name: "shown") { statistics { downloadsTotalCount } } }"#,
            json!({}),
        )
        .await["package"]["statistics"]["downloadsTotalCount"]
            .as_i64()
            .expect("count")
    };
    assert_eq!(count().await, 0, "a HEAD is not a download");
    assert_eq!(app.http.get(&url).send().await.expect("get").status(), 200);
    assert_eq!(count().await, 1);
}

/// What npm needs from the registry beyond storing what it sent: `latest` always exists,
/// install scripts run (the registry flags them), an unpublished version's name is never
/// reused, a deprecation changes the document's revision, and a token can be revoked by
/// its value.
#[tokio::test]
async fn npm_registry_computed_fields() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("ivy");
    let npm = Npm::new(&app, "ivy", Some(&token));
    let work = npm.path().to_path_buf();

    // A first publish under another tag still gets `latest` (a bare install needs it).
    let beta = package(
        &work,
        "@ivy/hooks",
        "1.0.0-beta.1",
        json!({"scripts": {"postinstall": "node -e \"require('fs').writeFileSync('installed.txt', 'yes')\""}}),
    );
    npm.ok(&["publish", "--tag", "next"], &beta);
    let tags: Value =
        serde_json::from_str(&npm.ok(&["view", "@ivy/hooks", "dist-tags", "--json"], &work))
            .expect("json");
    assert_eq!(
        tags,
        json!({"latest": "1.0.0-beta.1", "next": "1.0.0-beta.1"})
    );

    // The abbreviated document flags the install script, and npm runs it.
    let corgi: Value = app
        .http
        .get(format!("{}/npm/@ivy%2fhooks", app.url))
        .bearer_auth(&token)
        .header("Accept", "application/vnd.npm.install-v1+json")
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(corgi["versions"]["1.0.0-beta.1"]["hasInstallScript"], true);
    assert_eq!(corgi["versions"]["1.0.0-beta.1"]["_hasShrinkwrap"], false);
    let installer = Npm::new(&app, "ivy", Some(&token));
    let dir = consumer(installer.path());
    installer.ok(&["install", "@ivy/hooks"], &dir);
    assert_eq!(
        std::fs::read_to_string(dir.join("node_modules/@ivy/hooks/installed.txt"))
            .expect("the postinstall script ran"),
        "yes"
    );

    // A deprecation changes the revision: an update written before it is refused.
    let before: Value = app
        .get(Some(&token), "/npm/@ivy%2fhooks")
        .await
        .json()
        .await
        .expect("json");
    npm.ok(&["deprecate", "@ivy/hooks@1.0.0-beta.1", "old"], &work);
    let rev = before["_rev"].as_str().expect("_rev");
    let stale = app
        .http
        .put(format!("{}/npm/@ivy%2fhooks/-rev/{rev}", app.url))
        .bearer_auth(&token)
        .json(&before)
        .send()
        .await
        .expect("put");
    assert_eq!(stale.status(), 409);

    // Unpublished, a version's name stays taken.
    let stable = package(&work, "@ivy/hooks", "1.0.0", json!({}));
    npm.ok(&["publish"], &stable);
    npm.ok(&["unpublish", "@ivy/hooks@1.0.0"], &work);
    let again = package(&work, "@ivy/hooks-again", "1.0.0", json!({}));
    std::fs::write(
        again.join("package.json"),
        json!({"name": "@ivy/hooks", "version": "1.0.0", "description": "other bytes"}).to_string(),
    )
    .expect("package.json");
    let refused = npm.fails(&["publish"], &again);
    assert!(
        refused.contains("409") || refused.contains("reused"),
        "{refused}"
    );

    // `npm token revoke <value>`.
    let other = app.token("ivy", "read:packages");
    let registry = npm.registry.clone();
    npm.ok(&["token", "revoke", &other, "--registry", &registry], &work);
    assert_eq!(app.get(Some(&other), "/npm/-/whoami").await.status(), 401);
}
