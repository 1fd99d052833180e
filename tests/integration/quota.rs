//! Quotas: storage refusals in each client's own shape (generic, Maven, the real npm CLI,
//! skopeo, `gem push` and NuGet.exe), nothing half-written; transfer refusals of private downloads, never public
//! ones; thresholds recorded once a month.
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::{
    npm::{Npm, package},
    oci::{Layout, bearer, fails, host, skopeo},
    support::TestApp,
    usage::{bytes, usage},
};

async fn generic_error(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("json error");
    assert_eq!(body["code"], "QUOTA_EXCEEDED", "{body}");
    (
        status,
        body["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn quota_storage_refusals_in_each_clients_shape() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("full");
    app.admin(&["create-repository", "full/libs"], None);
    let open = app
        .put_generic(Some(&token), "full/open/1.0.0/o.bin", bytes(100, 9))
        .await;
    assert_eq!(open.status(), 201);
    let id = app
        .gql_ok(
            Some(&token),
            "{ package(owner: \"full\", packageType: GENERIC, name: \"open\") { id } }",
            json!({}),
        )
        .await["package"]["id"]
        .clone();
    app.gql_ok(
        Some(&token),
        "mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PUBLIC}) { package { visibility } } }",
        json!({"id": id}),
    )
    .await;
    let set = app.admin(&["set-quota", "full", "--storage", "1500"], None);
    assert!(set.contains("storage_quota 1500\n"), "{set}");
    assert!(set.contains("transfer_quota unlimited\n"), "{set}");

    let first = bytes(1000, 1);
    let r = app
        .put_generic(Some(&token), "full/tool/1.0.0/a.bin", first.clone())
        .await;
    assert_eq!(r.status(), 201);
    // Known size (Content-Length): refused before a byte is stored.
    let (status, message) = generic_error(
        app.put_generic(Some(&token), "full/tool/1.1.0/b.bin", bytes(1000, 2))
            .await,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        message,
        "storage quota exceeded for full: 1000 bytes of 1500 bytes used, this upload is 1000 bytes"
    );
    assert_eq!(
        app.get(Some(&token), "/generic/full/tool/1.1.0/b.bin")
            .await
            .status(),
        404
    );
    // Public packages are free.
    let public = app
        .put_generic(Some(&token), "full/open/2.0.0/o.bin", bytes(5000, 3))
        .await;
    assert_eq!(public.status(), 201);

    // Maven streams the jar; the publish's transaction decides. The same blob again costs
    // nothing (it is counted once); 600 new bytes are refused: plain text, 403.
    let same = app
        .http
        .put(format!(
            "{}/maven/full/libs/com/example/lib/0.9.0/lib-0.9.0.jar",
            app.url
        ))
        .basic_auth("full", Some(&token))
        .body(first.clone())
        .send()
        .await
        .expect("PUT jar");
    assert!(same.status().is_success(), "{}", same.status());
    let jar = app
        .http
        .put(format!(
            "{}/maven/full/libs/com/example/lib/1.0.0/lib-1.0.0.jar",
            app.url
        ))
        .basic_auth("full", Some(&token))
        .body(bytes(600, 4))
        .send()
        .await
        .expect("PUT jar");
    assert_eq!(jar.status(), 403);
    let text = jar.text().await.expect("text");
    assert!(
        text.contains(
            "storage quota exceeded for full: this publish needs 600 bytes more, 1000 bytes of 1500 bytes used"
        ),
        "{text}"
    );
    assert_eq!(
        app.get(
            Some(&token),
            "/maven/full/libs/com/example/lib/1.0.0/lib-1.0.0.jar"
        )
        .await
        .status(),
        404
    );

    // At the quota: the real npm CLI and skopeo are refused with the message.
    app.admin(&["set-quota", "full", "--storage", "1000"], None);
    let npm = Npm::new(&app, "full", Some(&token));
    let pkg = package(npm.path(), "@full/lib", "1.0.0", json!({}));
    let err = npm.fails(&["publish"], &pkg);
    assert!(err.contains("403"), "{err}");
    assert!(
        err.contains("storage quota exceeded for full"),
        "npm prints the message: {err}"
    );
    assert_eq!(
        app.get(Some(&token), "/npm/@full%2flib").await.status(),
        404
    );

    let work = tempfile::tempdir().expect("tempdir");
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut layout = Layout::new(&work.path().join("layout"));
    let image = layout.image("amd64", b"over quota", json!({}));
    layout.tag("v1", image);
    let err = fails(skopeo(&home).args([
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("full:{token}"),
        &format!("oci:{}:v1", work.path().join("layout").display()),
        &format!("docker://{}/full/img:v1", host(&app)),
    ]));
    // skopeo prints the code's words for DENIED; the registry's message is the detail.
    assert!(err.contains("denied"), "{err}");
    let bearer = bearer(&app, "full", &token, &["repository:full/img:push,pull"]).await;
    let start = app
        .http
        .post(format!("{}/v2/full/img/blobs/uploads/", app.url))
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("POST upload");
    assert_eq!(start.status(), 403);
    let body: Value = start.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "DENIED", "{body}");
    assert_eq!(
        body["errors"][0]["detail"],
        "storage quota exceeded for full: 1000 bytes of 1000 bytes used"
    );
    let u = usage(&app, Some(&token), "full").await;
    assert_eq!(u["storageBytes"], 1000, "{u}");
    assert_eq!(
        u["quota"],
        json!({"storageBytes": 1000, "transferBytes": null, "own": true})
    );
}

#[tokio::test]
async fn quota_transfer_refuses_private_downloads_never_public_ones() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("cap");
    app.create_admin("root");
    let root = app.token("root", "read:packages,user,admin:org");
    for (path, seed) in [("cap/tool/1.0.0/a.bin", 1), ("cap/open/1.0.0/o.bin", 2)] {
        let r = app.put_generic(Some(&token), path, bytes(1000, seed)).await;
        assert_eq!(r.status(), 201);
    }
    let id = app
        .gql_ok(
            Some(&token),
            "{ package(owner: \"cap\", packageType: GENERIC, name: \"open\") { id } }",
            json!({}),
        )
        .await["package"]["id"]
        .clone();
    app.gql_ok(
        Some(&token),
        "mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PUBLIC}) { package { visibility } } }",
        json!({"id": id}),
    )
    .await;
    let set_quota = "mutation($t: Int) { setQuota(owner: \"cap\", transferBytes: $t) { \
                     quota { storageBytes transferBytes own } } }";
    let refused = app
        .graphql(Some(&token), set_quota, json!({"t": 2500}))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    let set = app.gql_ok(Some(&root), set_quota, json!({"t": 2500})).await;
    assert_eq!(
        set["setQuota"]["quota"],
        json!({"storageBytes": null, "transferBytes": 2500, "own": true})
    );

    let get = |range: Option<&'static str>| {
        let mut req = app
            .http
            .get(format!("{}/generic/cap/tool/1.0.0/a.bin", app.url))
            .bearer_auth(&token);
        if let Some(r) = range {
            req = req.header("range", r);
        }
        req.send()
    };
    for _ in 0..2 {
        let r = get(None).await.expect("GET");
        assert_eq!(r.status(), 200);
        r.bytes().await.expect("body");
    }
    let (status, message) = generic_error(get(None).await.expect("GET")).await;
    assert_eq!(status, 403);
    assert_eq!(
        message,
        "transfer quota exceeded for cap: 2000 bytes of 2500 bytes used this month, this download is 1000 bytes"
    );
    let rest = get(Some("bytes=0-499")).await.expect("GET");
    assert_eq!(rest.status(), 206);
    assert_eq!(rest.bytes().await.expect("body").len(), 500);
    assert_eq!(
        get(Some("bytes=0-0")).await.expect("GET").status(),
        403,
        "the quota is used up"
    );
    for _ in 0..3 {
        let public = app.get(None, "/generic/cap/open/1.0.0/o.bin").await;
        assert_eq!(public.status(), 200, "public downloads are never refused");
    }
    assert_eq!(
        usage(&app, Some(&token), "cap").await["monthTransferBytes"],
        2500
    );
}

async fn thresholds(app: &TestApp) -> Vec<(String, i32)> {
    let db = app.db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT kind, percent FROM usage_threshold ORDER BY kind, percent",
        ))
        .await
        .expect("thresholds");
    rows.iter()
        .map(|r| {
            (
                r.try_get::<String>("", "kind").expect("kind"),
                r.try_get::<i32>("", "percent").expect("percent"),
            )
        })
        .collect()
}

async fn threshold_audit_entries(app: &TestApp) -> i64 {
    let db = app.db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM audit_event WHERE action = 'usage.threshold'",
        ))
        .await
        .expect("audit")
        .expect("row");
    row.try_get::<i64>("", "n").expect("n")
}

#[tokio::test]
async fn quota_thresholds_are_recorded_once_a_month() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("warn");
    app.admin(
        &[
            "set-quota",
            "warn",
            "--storage",
            "1000",
            "--transfer",
            "1000",
        ],
        None,
    );
    // The owner's hook gets a `usage` delivery per threshold (the outbox; whether the
    // target answers doesn't matter here).
    let hook = app
        .gql_ok(
            Some(&token),
            "mutation { createWebhook(input: {owner: \"warn\", url: \"http://127.0.0.1:9/hook\"}) { webhook { id } } }",
            json!({}),
        )
        .await["createWebhook"]["webhook"]["id"]
        .as_str()
        .expect("hook id")
        .to_string();
    let put = |path: &'static str, len: usize, seed: u8| {
        app.put_generic(Some(&token), path, bytes(len, seed))
    };
    assert_eq!(put("warn/t/1/a", 760, 1).await.status(), 201);
    assert_eq!(thresholds(&app).await, [("storage".to_string(), 75)]);
    assert_eq!(put("warn/t/2/a", 10, 2).await.status(), 201);
    assert_eq!(put("warn/t/3/a", 150, 3).await.status(), 201);
    assert_eq!(put("warn/t/4/a", 200, 4).await.status(), 403);
    assert_eq!(put("warn/t/5/a", 80, 5).await.status(), 201);
    assert_eq!(
        thresholds(&app).await,
        [
            ("storage".to_string(), 75),
            ("storage".to_string(), 90),
            ("storage".to_string(), 100)
        ]
    );
    // Transfer: 800 bytes sent crosses 75 %, more reads below 90 % cross nothing new.
    for range in ["bytes=0-399", "bytes=0-399", "bytes=0-49"] {
        let r = app
            .http
            .get(format!("{}/generic/warn/t/1/a", app.url))
            .header("range", range)
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 206);
        r.bytes().await.expect("body");
        usage(&app, Some(&token), "warn").await;
    }
    let all = thresholds(&app).await;
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(all.contains(&("transfer".to_string(), 75)), "{all:?}");
    assert_eq!(threshold_audit_entries(&app).await, 4);
    let data = app
        .gql_ok(
            Some(&token),
            "query($id: ID!) { webhook(id: $id) { deliveries(first: 100) { nodes { event action requestBody } } } }",
            json!({"id": hook}),
        )
        .await;
    let mut usage_events: Vec<(String, i64)> = data["webhook"]["deliveries"]["nodes"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter(|d| d["event"] == "usage")
        .map(|d| {
            assert_eq!(d["action"], "threshold_reached");
            let body: Value =
                serde_json::from_str(d["requestBody"].as_str().expect("body")).expect("JSON body");
            let u = &body["usage"];
            (
                u["kind"].as_str().expect("kind").to_string(),
                u["percent"].as_i64().expect("percent"),
            )
        })
        .collect();
    usage_events.sort();
    assert_eq!(
        usage_events,
        [
            ("storage".to_string(), 75),
            ("storage".to_string(), 90),
            ("storage".to_string(), 100),
            ("transfer".to_string(), 75)
        ]
    );
}

/// Runs a client with a private HOME; returns (success, stdout + stderr).
fn client(
    program: &str,
    args: &[&str],
    cwd: &std::path::Path,
    env: &[(&str, &str)],
) -> (bool, String) {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("HOME", cwd.join("home"))
        .env("GEM_HOME", cwd.join("gems"))
        .env("GEM_PATH", cwd.join("gems"))
        .env("GEM_SPEC_CACHE", cwd.join("spec-cache"))
        .env("XDG_CONFIG_HOME", cwd.join("home/.config"))
        .env("NUGET_PACKAGES", cwd.join("packages"))
        .env("NUGET_HTTP_CACHE_PATH", cwd.join("http-cache"))
        .env_remove("GEM_HOST_API_KEY")
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{program} could not run ({e}): run scripts/install-deps.sh"));
    (
        out.status.success(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The real `gem push` over the storage quota: refused before anything is stored, and gem
/// prints the registry's plain-text message (403); nothing of the gem is left.
#[tokio::test]
async fn quota_storage_refuses_a_gem_push_with_the_message_gem_prints() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("rubyist");
    app.admin(&["set-quota", "rubyist", "--storage", "100"], None);
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    std::fs::create_dir_all(dir.join("lib")).expect("lib");
    std::fs::create_dir_all(dir.join("home")).expect("home");
    std::fs::write(
        dir.join("lib/quotagem.rb"),
        format!("# {}\nmodule Quotagem; end\n", "x".repeat(400)),
    )
    .expect("lib");
    std::fs::write(
        dir.join("quotagem.gemspec"),
        "Gem::Specification.new do |s|\n  s.name = \"quotagem\"\n  s.version = \"1.0.0\"\n  \
         s.summary = \"Over quota\"\n  s.authors = [\"Ada\"]\n  s.license = \"MIT\"\n  \
         s.files = [\"lib/quotagem.rb\"]\nend\n",
    )
    .expect("gemspec");
    let (built, text) = client("gem", &["build", "quotagem.gemspec"], dir, &[]);
    assert!(built, "{text}");
    let gem = dir.join("quotagem-1.0.0.gem");
    let size = std::fs::metadata(&gem).expect("gem").len();
    let host = format!("{}/rubygems/rubyist", app.url);
    let (pushed, text) = client(
        "gem",
        &["push", "--host", &host, gem.to_str().expect("path")],
        dir,
        &[("GEM_HOST_API_KEY", &token)],
    );
    // The door reads the whole gem before its publish transaction decides.
    let expected = format!(
        "storage quota exceeded for rubyist: this publish needs {size} bytes more, 0 bytes of 100 bytes used"
    );
    assert!(text.contains(&expected), "gem prints the message: {text}");
    assert!(
        !pushed || !text.contains("Successfully registered"),
        "{text}"
    );
    // The same push as raw HTTP: 403, plain text.
    let raw = app
        .http
        .post(format!("{host}/api/v1/gems"))
        .header("Authorization", &token)
        .header("Content-Type", "application/octet-stream")
        .body(std::fs::read(&gem).expect("gem bytes"))
        .send()
        .await
        .expect("push");
    assert_eq!(raw.status(), 403);
    assert!(
        raw.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain"),
        "{:?}",
        raw.headers()
    );
    assert_eq!(raw.text().await.expect("text").trim(), expected);
    let found = app
        .gql_ok(
            Some(&token),
            "{ package(owner: \"rubyist\", packageType: RUBYGEMS, name: \"quotagem\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(found["package"], Value::Null);
    assert_eq!(
        usage(&app, Some(&token), "rubyist").await["storageBytes"],
        0
    );
}

/// The real NuGet.exe push over the storage quota: 403 with the message as the status
/// text NuGet prints (and as the body); nothing of the package is left.
#[tokio::test]
async fn quota_storage_refuses_a_nuget_push_with_the_status_text_nuget_prints() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("dotnetter");
    app.admin(&["set-quota", "dotnetter", "--storage", "0"], None);
    let exe = TestApp::repo_root().join(".tools/nuget/node_modules/nuget-exe/nuget-5.8.0.exe");
    assert!(
        exe.exists(),
        "{} is missing: run scripts/install-deps.sh",
        exe.display()
    );
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    std::fs::create_dir_all(dir.join("lib/net45")).expect("lib");
    std::fs::create_dir_all(dir.join("home")).expect("home");
    std::fs::write(dir.join("lib/net45/content.txt"), "over quota").expect("content");
    std::fs::write(
        dir.join("Quota.Pkg.nuspec"),
        r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>Quota.Pkg</id>
    <version>1.0.0</version>
    <authors>Ada Lovelace</authors>
    <description>Over the quota</description>
    <license type="expression">MIT</license>
  </metadata>
  <files><file src="lib/net45/content.txt" target="lib/net45/content.txt" /></files>
</package>"#,
    )
    .expect("nuspec");
    let exe = exe.to_str().expect("path").to_string();
    let (packed, text) = client(
        "mono",
        &[&exe, "pack", "Quota.Pkg.nuspec", "-NonInteractive"],
        dir,
        &[],
    );
    assert!(packed, "{text}");
    let nupkg = dir.join("Quota.Pkg.1.0.0.nupkg");
    let source = format!("{}/nuget/dotnetter/index.json", app.url);
    let (pushed, text) = client(
        "mono",
        &[
            &exe,
            "push",
            nupkg.to_str().expect("path"),
            "-Source",
            &source,
            "-ApiKey",
            &token,
            "-NonInteractive",
        ],
        dir,
        &[],
    );
    assert!(!pushed, "{text}");
    assert!(text.contains("403"), "{text}");
    // NuGet.exe streams a chunked multipart body: the publish transaction decides.
    let line = text
        .lines()
        .find(|l| {
            l.contains("403 (Forbidden - storage quota exceeded for dotnetter: this publish needs ")
        })
        .unwrap_or_else(|| panic!("NuGet prints the status text: {text}"));
    assert!(
        line.ends_with(" bytes more, 0 bytes of 0 bytes used)."),
        "{line}"
    );
    let found = app
        .gql_ok(
            Some(&token),
            "{ package(owner: \"dotnetter\", packageType: NUGET, name: \"Quota.Pkg\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(found["package"], Value::Null);
    assert_eq!(
        usage(&app, Some(&token), "dotnetter").await["storageBytes"],
        0
    );
}
