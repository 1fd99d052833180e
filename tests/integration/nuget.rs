//! The NuGet v3 feed, driven by the real NuGet.exe 5.8 (under mono, installed into
//! `.tools/nuget` by scripts/install-deps.sh), plus protocol tests that pin the JSON
//! `dotnet restore` / `dotnet nuget push` read.
use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::{Value, json};

use crate::support::TestApp;

/// NuGet.exe with a fresh HOME (its caches and its own config) per instance.
struct Nuget {
    exe: PathBuf,
    home: tempfile::TempDir,
}

impl Nuget {
    fn new() -> Self {
        let exe = TestApp::repo_root().join(".tools/nuget/node_modules/nuget-exe/nuget-5.8.0.exe");
        assert!(
            exe.exists(),
            "{} is missing: run scripts/install-deps.sh",
            exe.display()
        );
        Self {
            exe,
            home: tempfile::tempdir().expect("home"),
        }
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    fn run(&self, args: &[&str], cwd: &Path) -> (bool, String) {
        let out = Command::new("mono")
            .arg(&self.exe)
            .args(args)
            .arg("-NonInteractive")
            .current_dir(cwd)
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("NUGET_PACKAGES", self.home.path().join("packages"))
            .env("NUGET_HTTP_CACHE_PATH", self.home.path().join("http-cache"))
            .output()
            .expect("run mono nuget.exe");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn ok(&self, args: &[&str], cwd: &Path) -> String {
        let (ok, text) = self.run(args, cwd);
        assert!(ok, "nuget {args:?} failed:\n{text}");
        text
    }

    fn fails(&self, args: &[&str], cwd: &Path) -> String {
        let (ok, text) = self.run(args, cwd);
        assert!(!ok, "nuget {args:?} succeeded:\n{text}");
        text
    }

    /// A nuget.config with the feed and, if given, a user and token.
    fn config(&self, name: &str, source: &str, credentials: Option<(&str, &str)>) -> PathBuf {
        let creds = credentials
            .map(|(user, token)| {
                format!(
                    "<packageSourceCredentials><packyard><add key=\"Username\" value=\"{user}\" />\
                     <add key=\"ClearTextPassword\" value=\"{token}\" /></packyard></packageSourceCredentials>"
                )
            })
            .unwrap_or_default();
        let path = self.dir().join(name);
        std::fs::write(
            &path,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration><packageSources><clear />\
                 <add key=\"packyard\" value=\"{source}\" /></packageSources>{creds}</configuration>"
            ),
        )
        .expect("nuget.config");
        path
    }
}

/// A real portable PDB (from PyPI's clr_loader 0.3.1: tests/fixtures/nuget/README.md).
fn fixture_pdb() -> Vec<u8> {
    std::fs::read(TestApp::repo_root().join("tests/fixtures/nuget/ClrLoader.pdb")).expect("pdb")
}

/// The fixture's SSQP key.
const PDB_KEY: &str = "clrloader.pdb/95f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/clrloader.pdb";

/// Writes a .nuspec with one content file (and a real portable PDB, which `pack -Symbols`
/// puts in the .snupkg) under `dir/name`.
fn project(dir: &Path, id: &str, version: &str, extra: &str) -> PathBuf {
    let root = dir.join(format!("{id}-{version}"));
    std::fs::create_dir_all(root.join("lib/net45")).expect("mkdir");
    std::fs::write(
        root.join("lib/net45/content.txt"),
        format!("{id} {version} content"),
    )
    .expect("content");
    std::fs::write(root.join("lib/net45/ClrLoader.pdb"), fixture_pdb()).expect("pdb");
    let nuspec = root.join(format!("{id}.nuspec"));
    std::fs::write(
        &nuspec,
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id>
    <version>{version}</version>
    <authors>Ada Lovelace</authors>
    <description>{id}, the package</description>
    <license type="expression">MIT</license>
    <projectUrl>https://example.com/{id}</projectUrl>
    <tags>tools test</tags>
    {extra}
  </metadata>
  <files>
    <file src="lib/net45/content.txt" target="lib/net45/content.txt" />
    <file src="lib/net45/ClrLoader.pdb" target="lib/net45/ClrLoader.pdb" />
  </files>
</package>"#
        ),
    )
    .expect("nuspec");
    nuspec
}

/// NuGet.exe 5.8's pack refuses `<readme>` (5.10+): the test adds it after packing, as a
/// newer pack would have written it — the `.nuspec` names it and the file is in the zip.
fn add_readme(nupkg: &Path, readme: &str) {
    let bytes = std::fs::read(nupkg).expect("read nupkg");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let name = entry.name().to_string();
        if name.ends_with(".nuspec") {
            let mut text = String::new();
            entry.read_to_string(&mut text).expect("nuspec text");
            let text = text.replacen(
                "</metadata>",
                "<readme>docs/README.md</readme></metadata>",
                1,
            );
            out.start_file(name, options).expect("start");
            out.write_all(text.as_bytes()).expect("write");
        } else {
            drop(entry);
            out.raw_copy_file(zip.by_index_raw(i).expect("raw"))
                .expect("copy");
        }
    }
    out.start_file("docs/README.md", options).expect("start");
    out.write_all(readme.as_bytes()).expect("write");
    let bytes = out.finish().expect("finish").into_inner();
    std::fs::write(nupkg, bytes).expect("write nupkg");
}

/// A .nupkg built in memory (hostile input the real pack wouldn't make).
fn nupkg_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(
            *name,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// Pushes `nupkg` as NuGet does: multipart/form-data, chunked, `X-NuGet-ApiKey`.
async fn push_raw(app: &TestApp, owner: &str, token: &str, nupkg: Vec<u8>) -> reqwest::Response {
    push_to(app, owner, "package", token, nupkg).await
}

/// `push_raw` to a resource: `package` or `symbolpackage`.
async fn push_to(
    app: &TestApp,
    owner: &str,
    resource: &str,
    token: &str,
    nupkg: Vec<u8>,
) -> reqwest::Response {
    let boundary = "packyard-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"package.nupkg\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&nupkg);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    app.http
        .put(format!("{}/nuget/{owner}/api/v2/{resource}", app.url))
        .header("X-NuGet-ApiKey", token)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("push")
}

fn file_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn json_of(app: &TestApp, token: Option<&str>, path: &str) -> Value {
    let resp = app.get(token, path).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.expect("json")
}

/// The core story with the real client: pack, push, push again (409), a symbol package
/// beside its package, install into clean folders with nuget.config credentials (a read-only
/// token suffices), dependency resolution through registrations, prerelease and SemVer 2.0
/// versions, case-insensitive ids, GraphQL's view, delete (the last version takes the
/// package, restorable), and a public package installed anonymously.
#[tokio::test]
async fn nuget_exe_push_install_delete_round_trip() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("ada");
    let reader = app.token("ada", "read:packages");
    let nuget = Nuget::new();
    let work = nuget.dir().to_path_buf();
    let source = format!("{}/nuget/ada/index.json", app.url);

    // Pack: a library (with symbols and, added after packing, a readme) and an app
    // depending on it, SemVer 2.0 prerelease with build metadata.
    let core = project(&work, "Acme.Core", "1.0", "");
    nuget.ok(
        &[
            "pack",
            core.to_str().expect("path"),
            "-Symbols",
            "-SymbolPackageFormat",
            "snupkg",
        ],
        core.parent().expect("dir"),
    );
    let core_dir = core.parent().expect("dir").to_path_buf();
    let core_nupkg = core_dir.join("Acme.Core.1.0.0.nupkg");
    assert!(core_dir.join("Acme.Core.1.0.0.snupkg").exists());
    add_readme(&core_nupkg, "# Acme.Core\n\nThe readme of the core.");
    let app_spec = project(
        &work,
        "Acme.App",
        "2.0.0-beta.1+build.7",
        r#"<dependencies><group targetFramework=".NETFramework4.5"><dependency id="ACME.CORE" version="1.0" /></group></dependencies>"#,
    );
    let app_dir = app_spec.parent().expect("dir").to_path_buf();
    nuget.ok(&["pack", app_spec.to_str().expect("path")], &app_dir);
    let app_nupkg = app_dir.join("Acme.App.2.0.0-beta.1.nupkg");
    assert!(
        app_nupkg.exists(),
        "{:?}",
        std::fs::read_dir(&app_dir).map(|d| d.count())
    );

    // Push (the .snupkg beside the .nupkg goes to the symbol resource), push again: 409.
    let pushed = nuget.ok(
        &[
            "push",
            core_nupkg.to_str().expect("path"),
            "-Source",
            &source,
            "-ApiKey",
            &token,
        ],
        &work,
    );
    assert!(pushed.contains("symbolpackage"), "{pushed}");
    let again = nuget.fails(
        &[
            "push",
            core_nupkg.to_str().expect("path"),
            "-Source",
            &source,
            "-ApiKey",
            &token,
        ],
        &work,
    );
    assert!(again.contains("409"), "{again}");
    assert!(again.contains("already exists"), "{again}");
    // A read-only token can't push.
    let denied = nuget.fails(
        &[
            "push",
            app_nupkg.to_str().expect("path"),
            "-Source",
            &source,
            "-ApiKey",
            &reader,
        ],
        &work,
    );
    assert!(denied.contains("403"), "{denied}");
    nuget.ok(
        &[
            "push",
            app_nupkg.to_str().expect("path"),
            "-Source",
            &source,
            "-ApiKey",
            &token,
        ],
        &work,
    );
    let snupkg = app
        .get(
            Some(&token),
            "/nuget/ada/v3/flatcontainer/acme.core/1.0.0/acme.core.1.0.0.snupkg",
        )
        .await;
    assert_eq!(snupkg.status(), 200);
    assert_eq!(
        snupkg.bytes().await.expect("body").as_ref(),
        std::fs::read(core_dir.join("Acme.Core.1.0.0.snupkg")).expect("snupkg")
    );

    // Install the app (a prerelease) with a read-only token in nuget.config: its
    // dependency resolves through the registrations; the ids are asked in another case.
    let config = nuget.config("reader.config", &source, Some(("ada", &reader)));
    let out = work.join("installed");
    nuget.ok(
        &[
            "install",
            "acme.app",
            "-Prerelease",
            "-ConfigFile",
            config.to_str().expect("path"),
            "-OutputDirectory",
            out.to_str().expect("path"),
        ],
        &work,
    );
    assert_eq!(
        file_text(&out.join("Acme.App.2.0.0-beta.1/lib/net45/content.txt")),
        "Acme.App 2.0.0-beta.1+build.7 content"
    );
    assert_eq!(
        file_text(&out.join("Acme.Core.1.0.0/lib/net45/content.txt")),
        "Acme.Core 1.0 content"
    );
    // Without credentials the private feed answers 401 and NuGet has nothing to send
    // (a fresh HOME: nothing cached from the install above).
    let stranger = Nuget::new();
    let anonymous = stranger.config("anonymous.config", &source, None);
    let refused = stranger.fails(
        &[
            "install",
            "Acme.Core",
            "-ConfigFile",
            anonymous.to_str().expect("path"),
            "-OutputDirectory",
            stranger.dir().join("anon").to_str().expect("path"),
        ],
        stranger.dir(),
    );
    assert!(refused.contains("401"), "{refused}");

    // GraphQL: versions, README, license, downloads (one install of the core so far).
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "ada", packageType: NUGET, name: "acme.core") { id name
                 statistics { downloadsTotalCount }
                 version(version: "1.0.0") { readme license summary homepage authors files { nodes { name url } } }
                 versions { totalCount } } }"#,
            json!({}),
        )
        .await;
    let pkg = &data["package"];
    assert_eq!(pkg["name"], "Acme.Core");
    assert_eq!(pkg["versions"]["totalCount"], 1);
    assert_eq!(pkg["statistics"]["downloadsTotalCount"], 1);
    let v = &pkg["version"];
    assert!(
        v["readme"]
            .as_str()
            .expect("readme")
            .contains("The readme of the core")
    );
    assert_eq!(v["license"], "MIT");
    assert_eq!(v["summary"], "Acme.Core, the package");
    assert_eq!(v["homepage"], "https://example.com/Acme.Core");
    assert_eq!(v["authors"], json!(["Ada Lovelace"]));
    let files: Vec<&str> = v["files"]["nodes"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(files.contains(&"acme.core.1.0.0.nupkg"), "{files:?}");
    assert!(files.contains(&"acme.core.1.0.0.snupkg"), "{files:?}");
    let readme = app
        .get(
            Some(&token),
            "/nuget/ada/v3/flatcontainer/acme.core/1.0.0/readme",
        )
        .await;
    assert_eq!(readme.status(), 200);
    assert!(
        readme
            .text()
            .await
            .expect("text")
            .starts_with("# Acme.Core")
    );

    // Public: installs anonymously.
    let package_id = pkg["id"].as_str().expect("id").to_string();
    app.gql_ok(
        Some(&token),
        r#"mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PUBLIC}) { package { visibility } } }"#,
        json!({"id": package_id}),
    )
    .await;
    let fresh = Nuget::new();
    let anonymous = fresh.config("anonymous.config", &source, None);
    fresh.ok(
        &[
            "install",
            "Acme.Core",
            "-ConfigFile",
            anonymous.to_str().expect("path"),
            "-OutputDirectory",
            fresh.dir().join("out").to_str().expect("path"),
        ],
        fresh.dir(),
    );
    assert!(
        fresh
            .dir()
            .join("out/Acme.Core.1.0.0/lib/net45/content.txt")
            .exists()
    );

    // Delete: the only version of the app, so the package goes with it (restorable).
    let (ok, text) = nuget.run(
        &[
            "delete",
            "Acme.App",
            "2.0.0-beta.1",
            "-Source",
            &source,
            "-ApiKey",
            &reader,
        ],
        &work,
    );
    assert!(!ok && text.contains("403"), "{text}");
    nuget.ok(
        &[
            "delete",
            "acme.app",
            "2.0.0-BETA.1",
            "-Source",
            &source,
            "-ApiKey",
            &token,
        ],
        &work,
    );
    assert_eq!(
        app.get(
            Some(&token),
            "/nuget/ada/v3/registration/acme.app/index.json"
        )
        .await
        .status(),
        404
    );
    let deleted = app
        .gql_ok(
            Some(&token),
            r#"{ packages(state: DELETED, packageType: NUGET) { nodes { id name } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(deleted["packages"]["nodes"][0]["name"], "Acme.App");
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
    let flat = json_of(
        &app,
        Some(&token),
        "/nuget/ada/v3/flatcontainer/acme.app/index.json",
    )
    .await;
    assert_eq!(flat, json!({"versions": ["2.0.0-beta.1"]}));
}

/// The JSON the clients read, pinned: service index resources, registration leaves, flat
/// container paths, gzip, search and autocomplete.
#[tokio::test]
async fn nuget_protocol_documents() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("bea");
    let base = format!("{}/nuget/bea", app.url);
    let spec = |id: &str, version: &str, extra: &str| {
        format!(
            r#"<?xml version="1.0"?><package><metadata><id>{id}</id><version>{version}</version>
            <authors>Bea</authors><description>about {id}</description>
            <license type="expression">Apache-2.0</license><projectUrl>https://example.com/p</projectUrl>
            {extra}</metadata></package>"#
        )
    };
    for (id, version, extra) in [
        ("Bea.Lib", "1.0", ""),
        ("Bea.Lib", "1.1.0-rc.1", ""),
        (
            "Bea.Lib",
            "01.2",
            r#"<dependencies><dependency id="Other" version="[1.0,2.0)"/></dependencies>"#,
        ),
        (
            "Bea.Tool",
            "3.0.0-beta",
            "<packageTypes><packageType name=\"DotnetTool\"/></packageTypes>",
        ),
    ] {
        let nuspec = spec(id, version, extra);
        let pkg = nupkg_of(&[
            (&format!("{id}.nuspec"), nuspec.as_bytes()),
            ("lib/x.txt", b"x"),
        ]);
        let resp = push_raw(&app, "bea", &token, pkg).await;
        assert_eq!(
            resp.status(),
            201,
            "{id} {version}: {}",
            resp.text().await.unwrap_or_default()
        );
    }

    // 65 versions: the index links two pages instead of inlining them; the links resolve.
    for i in 0..65 {
        let nuspec = spec("Bea.Many", &format!("1.0.{i}"), "");
        let pkg = nupkg_of(&[("Bea.Many.nuspec", nuspec.as_bytes())]);
        assert_eq!(push_raw(&app, "bea", &token, pkg).await.status(), 201);
    }
    let many = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/registration/bea.many/index.json",
    )
    .await;
    assert_eq!(many["count"], 2);
    assert!(many["items"][0].get("items").is_none());
    let link = many["items"][1]["@id"].as_str().expect("page link");
    assert_eq!(
        link,
        format!("{base}/v3/registration/bea.many/page/1.0.64/1.0.64.json")
    );
    let first = many["items"][0]["@id"].as_str().expect("page link");
    let page = json_of(&app, Some(&token), first.trim_start_matches(&app.url)).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(64));
    assert_eq!(page["items"][63]["catalogEntry"]["version"], "1.0.63");

    // Service index: readable anonymously, with every resource the clients look for.
    let index = json_of(&app, None, "/nuget/bea/index.json").await;
    assert_eq!(index["version"], "3.0.0");
    let resources = index["resources"].as_array().expect("resources");
    let find = |t: &str| {
        resources
            .iter()
            .find(|r| r["@type"] == t)
            .and_then(|r| r["@id"].as_str())
            .unwrap_or_else(|| panic!("no {t}"))
            .to_string()
    };
    assert_eq!(
        find("PackagePublish/2.0.0"),
        format!("{base}/api/v2/package")
    );
    assert_eq!(
        find("SymbolPackagePublish/4.9.0"),
        format!("{base}/api/v2/symbolpackage")
    );
    assert_eq!(
        find("PackageBaseAddress/3.0.0"),
        format!("{base}/v3/flatcontainer/")
    );
    for t in [
        "RegistrationsBaseUrl",
        "RegistrationsBaseUrl/3.0.0-rc",
        "RegistrationsBaseUrl/3.0.0-beta",
        "RegistrationsBaseUrl/3.4.0",
        "RegistrationsBaseUrl/3.6.0",
        "RegistrationsBaseUrl/Versioned",
    ] {
        assert_eq!(find(t), format!("{base}/v3/registration/"), "{t}");
    }
    for t in [
        "SearchQueryService",
        "SearchQueryService/3.0.0-rc",
        "SearchQueryService/3.0.0-beta",
        "SearchQueryService/3.5.0",
    ] {
        assert_eq!(find(t), format!("{base}/v3/query"));
    }
    for t in [
        "SearchAutocompleteService",
        "SearchAutocompleteService/3.0.0-rc",
        "SearchAutocompleteService/3.0.0-beta",
        "SearchAutocompleteService/3.5.0",
    ] {
        assert_eq!(find(t), format!("{base}/v3/autocomplete"));
    }
    assert_eq!(
        find("ReadmeUriTemplate/6.13.0"),
        format!("{base}/v3/flatcontainer/{{lower_id}}/{{lower_version}}/readme")
    );

    // Flat container: lower-case normalized versions in SemVer order; files by lower names.
    let flat = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/flatcontainer/BEA.LIB/index.json",
    )
    .await;
    assert_eq!(flat, json!({"versions": ["1.0.0", "1.1.0-rc.1", "1.2.0"]}));
    let nuspec = app
        .get(
            Some(&token),
            "/nuget/bea/v3/flatcontainer/bea.lib/1.2.0/bea.lib.nuspec",
        )
        .await;
    assert_eq!(nuspec.status(), 200);
    assert!(
        nuspec
            .text()
            .await
            .expect("text")
            .contains("<id>Bea.Lib</id>")
    );
    let nupkg = app
        .get(
            Some(&token),
            "/nuget/bea/v3/flatcontainer/bea.lib/1.2/bea.lib.1.2.0.nupkg",
        )
        .await;
    assert_eq!(nupkg.status(), 200);
    assert_eq!(
        app.get(
            Some(&token),
            "/nuget/bea/v3/flatcontainer/bea.lib/9.0.0/bea.lib.9.0.0.nupkg"
        )
        .await
        .status(),
        404
    );

    // Registrations: inline page, leaf fields, dependency ranges normalized.
    let reg = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/registration/bea.lib/index.json",
    )
    .await;
    assert_eq!(reg["count"], 1);
    let page = &reg["items"][0];
    assert_eq!(
        (page["lower"].as_str(), page["upper"].as_str()),
        (Some("1.0.0"), Some("1.2.0"))
    );
    let leaves = page["items"].as_array().expect("leaves");
    assert_eq!(leaves.len(), 3);
    let leaf = &leaves[2];
    assert_eq!(
        leaf["@id"],
        format!("{base}/v3/registration/bea.lib/1.2.0.json")
    );
    assert_eq!(
        leaf["packageContent"],
        format!("{base}/v3/flatcontainer/bea.lib/1.2.0/bea.lib.1.2.0.nupkg")
    );
    assert_eq!(
        leaf["registration"],
        format!("{base}/v3/registration/bea.lib/index.json")
    );
    let entry = &leaf["catalogEntry"];
    for (k, v) in [
        ("id", json!("Bea.Lib")),
        ("version", json!("1.2.0")),
        ("listed", json!(true)),
        ("licenseExpression", json!("Apache-2.0")),
        ("projectUrl", json!("https://example.com/p")),
        ("authors", json!("Bea")),
        ("description", json!("about Bea.Lib")),
    ] {
        assert_eq!(entry[k], v, "{k}");
    }
    assert!(
        entry["published"]
            .as_str()
            .expect("published")
            .starts_with("20")
    );
    assert_eq!(
        entry["dependencyGroups"][0]["dependencies"][0]["range"],
        "[1.0.0, 2.0.0)"
    );
    let leaf_doc = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/registration/bea.lib/1.2.0.json",
    )
    .await;
    assert_eq!(leaf_doc["listed"], true);
    assert_eq!(leaf_doc["packageContent"], leaf["packageContent"]);

    // gzip when asked (NuGet sends Accept-Encoding: gzip, deflate).
    let raw = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let gz = raw
        .get(format!("{base}/v3/registration/bea.lib/index.json"))
        .header("Accept-Encoding", "gzip, deflate")
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let body = gz.bytes().await.expect("body");
    let mut text = String::new();
    flate2::read::GzDecoder::new(body.as_ref())
        .read_to_string(&mut text)
        .expect("gunzip");
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), reg);

    // Yanked (unlisted through GraphQL): still in registrations, listed false.
    let v = app
        .gql_ok(Some(&token), r#"{ package(owner: "bea", packageType: NUGET, name: "Bea.Lib") { version(version: "1.0.0") { id } } }"#, json!({}))
        .await;
    let vid = v["package"]["version"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&token), r#"mutation($id: ID!) { yankPackageVersion(input: {packageVersionId: $id}) { packageVersion { yanked } } }"#, json!({"id": vid})).await;
    let reg = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/registration/bea.lib/index.json",
    )
    .await;
    assert_eq!(reg["items"][0]["items"][0]["catalogEntry"]["listed"], false);

    // Search: prerelease and packageType filters, versions with downloads.
    let search = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/query?q=bea&semVerLevel=2.0.0",
    )
    .await;
    let ids: Vec<&str> = search["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    // Bea.Tool has only a prerelease: not shown without prerelease=true, nor counted.
    assert_eq!(ids, ["Bea.Lib", "Bea.Many"]);
    assert_eq!(search["totalHits"], 2);
    // totalHits counts the filtered set, whatever page of it `data` shows.
    let page = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/query?q=bea&semVerLevel=2.0.0&skip=1&take=1",
    )
    .await;
    assert_eq!(page["totalHits"], 2);
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["data"][0]["id"], "Bea.Many");
    let past = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/query?q=bea&semVerLevel=2.0.0&skip=2",
    )
    .await;
    assert_eq!(past, json!({"totalHits": 2, "data": []}));
    let exact = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/query?q=packageid:bea.lib",
    )
    .await;
    assert_eq!(exact["totalHits"], 1);
    assert_eq!(exact["data"][0]["id"], "Bea.Lib");
    let lib = search["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|d| d["id"] == "Bea.Lib")
        .expect("lib");
    assert_eq!(lib["version"], "1.2.0");
    let versions: Vec<&str> = lib["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(versions, ["1.2.0"]);
    assert_eq!(lib["versions"][0]["downloads"], 1);
    assert_eq!(lib["totalDownloads"], 1);
    let pre = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/query?q=lib&prerelease=true&semVerLevel=2.0.0",
    )
    .await;
    let versions: Vec<&str> = pre["data"][0]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(versions, ["1.1.0-rc.1", "1.2.0"]);
    // Without semVerLevel=2.0.0, SemVer 2.0 versions (`rc.1`) stay hidden.
    let old = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/query?q=lib&prerelease=true",
    )
    .await;
    assert_eq!(old["data"][0]["versions"].as_array().map(Vec::len), Some(1));
    let tools = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/query?q=&prerelease=true&packageType=DotnetTool",
    )
    .await;
    let ids: Vec<&str> = tools["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(ids, ["Bea.Tool"]);
    assert_eq!(tools["totalHits"], 1);
    let ac = json_of(&app, Some(&token), "/nuget/bea/v3/autocomplete?q=bea.t").await;
    assert_eq!(ac, json!({"totalHits": 1, "data": ["Bea.Tool"]}));
    let ac = json_of(
        &app,
        Some(&token),
        "/nuget/bea/v3/autocomplete?id=bea.lib&prerelease=true&semVerLevel=2.0.0",
    )
    .await;
    assert_eq!(ac["data"], json!(["1.1.0-rc.1", "1.2.0"]));
}

/// Private packages: an anonymous caller gets the Basic challenge for private and missing
/// alike (NuGet sends credentials only after one), a signed-in outsider 404; search shows
/// only what the caller may read. Hostile packages (a zip bomb, an entity expansion, a
/// package that isn't a zip) are refused with nothing stored.
#[tokio::test]
async fn nuget_privacy_and_hostile_packages() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("cy");
    let outsider = app.user_with_token("dee");
    let nuspec = |id: &str, description: &str| {
        format!(
            "<?xml version=\"1.0\"?><package><metadata><id>{id}</id><version>1.0.0</version>\
             <authors>Cy</authors><description>{description}</description></metadata></package>"
        )
    };
    let secret = nupkg_of(&[("Cy.Secret.nuspec", nuspec("Cy.Secret", "hidden").as_bytes())]);
    assert_eq!(push_raw(&app, "cy", &token, secret).await.status(), 201);

    for path in [
        "/nuget/cy/v3/registration/cy.secret/index.json",
        "/nuget/cy/v3/registration/cy.missing/index.json",
        "/nuget/cy/v3/flatcontainer/cy.secret/index.json",
        "/nuget/cy/v3/flatcontainer/cy.secret/1.0.0/cy.secret.1.0.0.nupkg",
        "/nuget/cy/v3/flatcontainer/cy.missing/1.0.0/cy.missing.1.0.0.nupkg",
    ] {
        let anon = app.get(None, path).await;
        assert_eq!(anon.status(), 401, "{path}");
        assert_eq!(
            anon.headers()["www-authenticate"],
            "Basic realm=\"Packyard\"",
            "{path}"
        );
        assert_eq!(app.get(Some(&outsider), path).await.status(), 404, "{path}");
    }
    assert_eq!(
        app.get(
            Some(&token),
            "/nuget/cy/v3/flatcontainer/cy.secret/index.json"
        )
        .await
        .status(),
        200
    );
    // Basic with the token as password works as nuget.config sends it.
    let basic = app
        .http
        .get(format!(
            "{}/nuget/cy/v3/flatcontainer/cy.secret/index.json",
            app.url
        ))
        .basic_auth("cy", Some(&token))
        .send()
        .await
        .expect("get");
    assert_eq!(basic.status(), 200);
    let search = json_of(&app, Some(&outsider), "/nuget/cy/v3/query?q=secret").await;
    assert_eq!(search, json!({"totalHits": 0, "data": []}));
    let search = json_of(&app, None, "/nuget/cy/v3/query?q=secret").await;
    assert_eq!(search["totalHits"], 0);
    let mine = json_of(&app, Some(&token), "/nuget/cy/v3/query?q=secret").await;
    assert_eq!(mine["totalHits"], 1);
    // An outsider can't push over it, nor delete it.
    let over = nupkg_of(&[(
        "Cy.Secret.nuspec",
        nuspec("cy.secret", "mine now").as_bytes(),
    )]);
    assert_eq!(push_raw(&app, "cy", &outsider, over).await.status(), 403);
    let del = app
        .delete(Some(&outsider), "/nuget/cy/api/v2/package/cy.secret/1.0.0")
        .await;
    assert_eq!(del.status(), 404);
    let anon_push = app
        .http
        .put(format!("{}/nuget/cy/api/v2/package", app.url))
        .body("x")
        .send()
        .await
        .expect("put");
    assert_eq!(anon_push.status(), 401);

    // Hostile packages: refused with a clear reason, nothing stored.
    let zeros = vec![0u8; 4 << 20];
    let bomb = nupkg_of(&[
        ("Cy.Bomb.nuspec", nuspec("Cy.Bomb", "boom").as_bytes()),
        ("lib/zeros.bin", &zeros),
    ]);
    let entity = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>{}",
        nuspec("Cy.Entity", "&lol2;")
    );
    let entity = nupkg_of(&[("Cy.Entity.nuspec", entity.as_bytes())]);
    let missing = nupkg_of(&[("lib/x.txt", b"no nuspec")]);
    let bad_version = nupkg_of(&[(
        "Cy.Bad.nuspec",
        nuspec("Cy.Bad", "d")
            .replace("1.0.0", "1.0.0.0.0")
            .as_bytes(),
    )]);
    for (what, body, words) in [
        ("zip bomb", bomb, "zip bomb"),
        ("entity expansion", entity, "DTD"),
        ("not a zip", b"just text".to_vec(), "not a zip"),
        ("no nuspec", missing, "no .nuspec"),
        ("bad version", bad_version, "invalid NuGet version"),
    ] {
        let resp = push_raw(&app, "cy", &token, body).await;
        assert_eq!(resp.status(), 400, "{what}");
        let text = resp.text().await.expect("text");
        assert!(text.contains(words), "{what}: {text}");
    }
    for id in ["cy.bomb", "cy.entity", "cy.bad"] {
        let path = format!("/nuget/cy/v3/flatcontainer/{id}/index.json");
        assert_eq!(app.get(Some(&token), &path).await.status(), 404, "{id}");
    }
    let all = app
        .gql_ok(
            Some(&token),
            r#"{ packages(packageType: NUGET) { nodes { name } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(all["packages"]["nodes"], json!([{"name": "Cy.Secret"}]));
}

/// The symbol server: a package and its .snupkg pushed by NuGet.exe, then the PDB fetched
/// by its SSQP key as dotnet-symbol and Visual Studio ask it (any case, the key's `/`
/// escaped or not) is the PDB inside the .snupkg; a wrong key is 404; the private
/// package's symbols answer 401 (challenge) anonymously and 404 to an outsider, and are
/// served anonymously once public; no download is counted.
#[tokio::test]
async fn nuget_symbols_served_by_ssqp_key_after_a_nuget_exe_push() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("ada");
    let outsider = app.user_with_token("eve");
    let nuget = Nuget::new();
    let work = nuget.dir().to_path_buf();
    let source = format!("{}/nuget/ada/index.json", app.url);
    let spec = project(&work, "Acme.Sym", "1.2", "");
    let dir = spec.parent().expect("dir").to_path_buf();
    nuget.ok(
        &[
            "pack",
            spec.to_str().expect("path"),
            "-Symbols",
            "-SymbolPackageFormat",
            "snupkg",
        ],
        &dir,
    );
    let pushed = nuget.ok(
        &[
            "push",
            dir.join("Acme.Sym.1.2.0.nupkg").to_str().expect("path"),
            "-Source",
            &source,
            "-ApiKey",
            &token,
        ],
        &work,
    );
    assert!(pushed.contains("symbolpackage"), "{pushed}");
    // The PDB as the .snupkg NuGet.exe packed holds it.
    let snupkg = std::fs::read(dir.join("Acme.Sym.1.2.0.snupkg")).expect("snupkg");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(snupkg)).expect("zip");
    let mut inside = Vec::new();
    zip.by_name("lib/net45/ClrLoader.pdb")
        .expect("the PDB in the .snupkg")
        .read_to_end(&mut inside)
        .expect("read");
    assert_eq!(inside, fixture_pdb());

    let path = format!("/nuget/ada/symbols/{PDB_KEY}");
    for asked in [
        path.clone(),
        path.to_uppercase()
            .replace("/NUGET/ADA/SYMBOLS/", "/nuget/ada/symbols/"),
        format!("/nuget/ada/symbols/{}", PDB_KEY.replace('/', "%2F")),
    ] {
        let resp = app.get(Some(&token), &asked).await;
        assert_eq!(resp.status(), 200, "{asked}");
        assert_eq!(resp.headers()["content-type"], "application/octet-stream");
        assert_eq!(
            resp.headers()["content-length"],
            inside.len().to_string().as_str()
        );
        assert_eq!(resp.bytes().await.expect("body").as_ref(), &inside[..]);
    }
    // Basic with the token as password and no user, as dotnet-symbol's
    // `--authenticated-server-path` sends it (the key's `/` escaped, as it escapes them).
    let basic = app
        .http
        .get(format!(
            "{}/nuget/ada/symbols/{}",
            app.url,
            PDB_KEY.replace('/', "%2F")
        ))
        .basic_auth("", Some(&token))
        .send()
        .await
        .expect("get");
    assert_eq!(basic.status(), 200);

    // A wrong key: 404 signed in, 401 (challenge) anonymously, like a private one.
    let wrong =
        "/nuget/ada/symbols/clrloader.pdb/00f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/clrloader.pdb";
    let other_name =
        "/nuget/ada/symbols/other.pdb/95f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/other.pdb";
    for p in [wrong, other_name] {
        assert_eq!(app.get(Some(&token), p).await.status(), 404, "{p}");
    }
    let nobody = format!("/nuget/nobody/symbols/{PDB_KEY}");
    for p in [path.as_str(), wrong, nobody.as_str()] {
        let anon = app.get(None, p).await;
        assert_eq!(anon.status(), 401, "{p}");
        assert_eq!(
            anon.headers()["www-authenticate"],
            "Basic realm=\"Packyard\""
        );
        assert_eq!(app.get(Some(&outsider), p).await.status(), 404, "{p}");
    }
    // Keys of other shapes (Windows PDB ages, SymSrv's file.ptr probes) are plain 404s.
    for p in [
        "/nuget/ada/symbols/clrloader.pdb/95f8f6b2afbc45e4884cb4a5bf5addd21/clrloader.pdb",
        "/nuget/ada/symbols/clrloader.pdb/95f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/file.ptr",
        "/nuget/ada/symbols/index2.txt",
    ] {
        assert_eq!(app.get(None, p).await.status(), 404, "{p}");
    }

    // Public: served anonymously. No GET above counted a download.
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "ada", packageType: NUGET, name: "acme.sym") { id
                 statistics { downloadsTotalCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["package"]["statistics"]["downloadsTotalCount"], 0);
    app.gql_ok(
        Some(&token),
        r#"mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PUBLIC}) { package { visibility } } }"#,
        json!({"id": data["package"]["id"]}),
    )
    .await;
    let anon = app.get(None, &path).await;
    assert_eq!(anon.status(), 200);
    assert_eq!(anon.bytes().await.expect("body").as_ref(), &inside[..]);
}

/// A .snupkg whose PDB is a Windows PDB, garbage, or missing is refused with a 400 in
/// nuget.org's words, nothing stored: the version takes a good .snupkg afterwards.
#[tokio::test]
async fn nuget_symbols_refuses_windows_garbage_and_missing_pdbs() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("cy");
    let nuspec = |types: &str| {
        format!(
            "<?xml version=\"1.0\"?><package><metadata><id>Cy.Sym</id><version>1.0.0</version>\
             <authors>Cy</authors><description>d</description>{types}</metadata></package>"
        )
    };
    let package = nupkg_of(&[("Cy.Sym.nuspec", nuspec("").as_bytes())]);
    assert_eq!(push_raw(&app, "cy", &token, package).await.status(), 201);
    let symbols_nuspec =
        nuspec("<packageTypes><packageType name=\"SymbolsPackage\" /></packageTypes>");
    let mut msf = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0".to_vec();
    msf.resize(8192, 0);
    let pdb = fixture_pdb();
    let snupkg_with = |files: &[(&str, &[u8])]| {
        let mut all: Vec<(&str, &[u8])> = vec![("Cy.Sym.nuspec", symbols_nuspec.as_bytes())];
        all.extend_from_slice(files);
        nupkg_of(&all)
    };
    for (what, body, words) in [
        (
            "a Windows PDB",
            snupkg_with(&[("lib/net45/Good.pdb", &pdb), ("lib/net45/Native.pdb", &msf)]),
            "The uploaded symbols package contains one or more pdbs that are not portable.",
        ),
        (
            "garbage",
            snupkg_with(&[("lib/net45/tool.pdb", b"not really a pdb")]),
            "lib/net45/tool.pdb is not a portable PDB",
        ),
        (
            "no PDB",
            snupkg_with(&[("lib/net45/a.txt", b"text")]),
            "The uploaded symbols package does not contain any symbol files.",
        ),
    ] {
        let resp = push_to(&app, "cy", "symbolpackage", &token, body).await;
        assert_eq!(resp.status(), 400, "{what}");
        let text = resp.text().await.expect("text");
        assert!(text.contains(words), "{what}: {text}");
        let stored = app
            .get(
                Some(&token),
                "/nuget/cy/v3/flatcontainer/cy.sym/1.0.0/cy.sym.1.0.0.snupkg",
            )
            .await;
        assert_eq!(stored.status(), 404, "{what}");
        let key = app
            .get(Some(&token), &format!("/nuget/cy/symbols/{PDB_KEY}"))
            .await;
        assert_eq!(key.status(), 404, "{what}");
    }
    let good = snupkg_with(&[("lib/net45/ClrLoader.pdb", &pdb)]);
    let resp = push_to(&app, "cy", "symbolpackage", &token, good).await;
    assert_eq!(resp.status(), 201);
    let served = app
        .get(Some(&token), &format!("/nuget/cy/symbols/{PDB_KEY}"))
        .await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.expect("body").as_ref(), &pdb[..]);
}
