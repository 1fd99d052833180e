//! Webhooks against a real receiver: an HTTP server in the test, on 127.0.0.1 (allowed by
//! `PACKYARD_WEBHOOK_ALLOWED_NETWORKS`), that checks every delivery's signature.
use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::support::TestApp;

const SECRET: &str = "It's a Secret to Everybody";
const ALLOW_LOCAL: (&str, &str) = ("PACKYARD_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8");
const FAST_RETRIES: (&str, &str) = ("PACKYARD_WEBHOOK_BACKOFF_SECONDS", "1");

#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
    json: Value,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let json = if headers
        .get("content-type")
        .is_some_and(|c| c == "application/x-www-form-urlencoded")
    {
        let payload = url::form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "payload")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        serde_json::from_str(&payload).unwrap_or(Value::Null)
    } else {
        serde_json::from_str(&body).unwrap_or(Value::Null)
    };
    r.got.lock().expect("lock").push(Received {
        headers,
        body,
        json,
    });
    StatusCode::NO_CONTENT
}

impl Receiver {
    /// Listens on `port` (0: any); returns the port and the server task.
    async fn start(&self, port: u16) -> (u16, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind receiver");
        let port = listener.local_addr().expect("addr").port();
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(self.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (port, task)
    }

    fn all(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits for `n` deliveries matching `pred`.
    async fn wait_for(&self, n: usize, pred: impl Fn(&Received) -> bool) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got: Vec<Received> = self.all().into_iter().filter(|r| pred(r)).collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "waited for {n} deliveries; got {:#?}",
                self.all()
                    .iter()
                    .map(|r| &r.json["action"])
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The receiver's side of GitHub's signature check.
fn verify(r: &Received) {
    let mut mac = hmac::Hmac::<sha2_hmac::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(r.body.as_bytes());
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        r.header("x-hub-signature-256"),
        want,
        "signature of {}",
        r.body
    );
    assert!(r.header("user-agent").starts_with("GitHub-Hookshot/"));
    assert_eq!(
        r.header("x-github-delivery"),
        r.header("x-packyard-delivery")
    );
    assert!(uuid::Uuid::parse_str(r.header("x-github-delivery")).is_ok());
    assert!(!r.header("x-github-hook-id").is_empty());
}

const CREATE: &str = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id url hasSecret active events contentType } } }";

async fn create_hook(app: &TestApp, token: &str, owner: &str, url: &str, extra: Value) -> Value {
    let mut input = json!({"owner": owner, "url": url, "secret": SECRET});
    if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
        i.extend(e.clone());
    }
    let data = app.gql_ok(Some(token), CREATE, json!({"i": input})).await;
    data["createWebhook"]["webhook"].clone()
}

async fn deliveries(app: &TestApp, token: &str, hook_id: &str) -> Vec<Value> {
    let data = app
        .gql_ok(
            Some(token),
            "query($id: ID!) { webhook(id: $id) { deliveries(first: 100) { nodes { id guid event action status statusCode attempts redelivery error requestBody requestHeaders { name value } } } } }",
            json!({"id": hook_id}),
        )
        .await;
    data["webhook"]["deliveries"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn gem(name: &str, version: &str) -> Vec<u8> {
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    };
    let spec = format!(
        "--- !ruby/object:Gem::Specification\nname: {name}\nversion: !ruby/object:Gem::Version\n  version: {version}\nplatform: ruby\nsummary: hooked\n"
    );
    let mut b = tar::Builder::new(Vec::new());
    for (entry, bytes) in [
        ("metadata.gz", gz(spec.as_bytes())),
        ("data.tar.gz", gz(b"data")),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o444);
        h.set_cksum();
        b.append_data(&mut h, entry, bytes.as_slice()).expect("tar");
    }
    b.into_inner().expect("tar")
}

fn nupkg(id: &str, version: &str) -> Vec<u8> {
    let nuspec = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata><id>{id}</id><version>{version}</version><authors>t</authors><description>hooked</description></metadata></package>"#
    );
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in [
        (format!("{id}.nuspec"), nuspec.as_bytes()),
        ("lib/x.txt".into(), b"x".as_slice()),
    ] {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Pushes a one-layer image by raw registry calls.
async fn push_image(app: &TestApp, user: &str, token: &str, name: &str, tag: &str) {
    let put_blob = |data: Vec<u8>| {
        let digest = sha256(&data);
        let req = app
            .http
            .post(format!(
                "{}/v2/{name}/blobs/uploads/?digest={digest}",
                app.url
            ))
            .basic_auth(user, Some(token))
            .body(data);
        async move {
            let r = req.send().await.expect("blob");
            assert_eq!(r.status(), 201, "blob upload");
            digest
        }
    };
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).to_string();
    let config_digest = put_blob(config.clone().into_bytes()).await;
    let layer = b"not really a tarball".to_vec();
    let layer_len = layer.len();
    let layer_digest = put_blob(layer).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_len}],
    });
    let r = app
        .http
        .put(format!("{}/v2/{name}/manifests/{tag}", app.url))
        .basic_auth(user, Some(token))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .expect("manifest");
    assert_eq!(
        r.status(),
        201,
        "manifest: {}",
        r.text().await.unwrap_or_default()
    );
}

fn published_of(r: &Received, package_type: &str) -> bool {
    r.header("x-github-event") == "package"
        && r.json["action"] == "published"
        && r.json["package"]["package_type"] == package_type
}

/// A push through each door gives the owner's hook a signed `published` delivery in
/// GitHub's shape; creating the hook pinged it.
#[tokio::test]
async fn webhook_published_deliveries_for_a_push_through_every_door() {
    let app = TestApp::spawn_with(&[ALLOW_LOCAL]).await;
    let token = app.user_with_token("hana");
    let receiver = Receiver::default();
    let (port, _server) = receiver.start(0).await;
    let hook = create_hook(
        &app,
        &token,
        "hana",
        &format!("http://127.0.0.1:{port}/hook"),
        json!({}),
    )
    .await;
    assert_eq!(hook["hasSecret"], true);
    assert_eq!(hook["contentType"], "JSON");

    let ping = receiver
        .wait_for(1, |r| r.header("x-github-event") == "ping")
        .await;
    verify(&ping[0]);
    assert!(ping[0].json["zen"].is_string());
    assert_eq!(
        ping[0].json["hook"]["config"]["url"],
        format!("http://127.0.0.1:{port}/hook")
    );
    assert_eq!(
        ping[0].header("x-github-hook-id"),
        ping[0].json["hook_id"].to_string()
    );

    // generic
    let r = app
        .put_generic(Some(&token), "hana/tool/1.0.0/tool.bin", "bytes")
        .await;
    assert_eq!(r.status(), 201);
    // npm
    crate::npm_documents::publish(&app, &token, "@hana/lib", "1.0.0").await;
    // OCI
    push_image(&app, "hana", &token, "hana/app", "v1").await;
    // RubyGems
    let r = app
        .http
        .post(format!("{}/rubygems/hana/api/v1/gems", app.url))
        .header("authorization", token.clone())
        .body(gem("hooked", "1.0.0"))
        .send()
        .await
        .expect("gem push");
    assert!(r.status().is_success(), "gem push {}", r.status());
    // NuGet
    let boundary = "b0undary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"p.nupkg\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&nupkg("Hana.Hooked", "1.0.0"));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = app
        .http
        .put(format!("{}/nuget/hana/api/v2/package", app.url))
        .header("X-NuGet-ApiKey", &token)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("nuget push");
    assert_eq!(r.status(), 201);
    // Maven (repository-scoped)
    app.admin(&["create-repository", "hana/libs"], None);
    let r = app
        .http
        .put(format!(
            "{}/maven/hana/libs/org/hana/core/1.0/core-1.0.jar",
            app.url
        ))
        .basic_auth("hana", Some(&token))
        .body("jar bytes")
        .send()
        .await
        .expect("maven put");
    assert!(r.status().is_success(), "maven deploy {}", r.status());

    for t in ["generic", "npm", "container", "rubygems", "nuget", "maven"] {
        let got = receiver.wait_for(1, |r| published_of(r, t)).await;
        let d = &got[0];
        verify(d);
        let p = &d.json;
        assert_eq!(p["package"]["namespace"], "hana", "{t}");
        assert_eq!(p["package"]["owner"]["login"], "hana");
        assert_eq!(p["sender"]["login"], "hana");
        assert!(
            p["package"]["package_version"]["version"].is_string(),
            "{t}: {p:#}"
        );
        let html = p["package"]["html_url"].as_str().expect("html_url");
        assert!(
            html.starts_with(&format!("{}/-/package/hana/{t}/", app.url)),
            "{html}"
        );
        // The web UI's package page (`/-/package/OWNER/TYPE/NAME`).
        let name = p["package"]["name"].as_str().expect("name");
        assert_eq!(
            html.replace("%3A", ":"),
            format!("{}/-/package/hana/{t}/{name}", app.url)
        );
    }
    let image = receiver.wait_for(1, |r| published_of(r, "container")).await;
    assert_eq!(
        image[0].json["package"]["package_version"]["container_metadata"]["tag"]["name"],
        "v1"
    );
    assert_eq!(image[0].json["package"]["ecosystem"], "CONTAINER");
    let maven = receiver.wait_for(1, |r| published_of(r, "maven")).await;
    assert_eq!(maven[0].json["repository"]["full_name"], "hana/libs");
}

/// Deletes and restores are delivered; a change that rolls back (a refused duplicate) is
/// not; hooks see only their owner's packages; form content type carries `payload=`.
#[tokio::test]
async fn webhook_deleted_restored_and_nothing_for_a_rolled_back_change() {
    let app = TestApp::spawn_with(&[ALLOW_LOCAL]).await;
    let token = app.user_with_token("ines");
    let other = app.user_with_token("omar");
    let receiver = Receiver::default();
    let (port, _server) = receiver.start(0).await;
    let url = format!("http://127.0.0.1:{port}/hook");
    create_hook(&app, &token, "ines", &url, json!({"contentType": "FORM"})).await;
    // Another owner's hook on the same receiver: must see only omar's events.
    let omar_hook = create_hook(&app, &other, "omar", &url, json!({"events": ["DELETED"]})).await;
    receiver
        .wait_for(2, |r| r.header("x-github-event") == "ping")
        .await;

    assert_eq!(
        app.put_generic(Some(&token), "ines/secret/1.0/a.txt", "one")
            .await
            .status(),
        201
    );
    // The same file again is refused (its transaction rolls back).
    assert_eq!(
        app.put_generic(Some(&token), "ines/secret/1.0/a.txt", "two")
            .await
            .status(),
        409
    );
    let published = receiver
        .wait_for(1, |r| r.json["action"] == "published")
        .await;
    let d = &published[0];
    assert_eq!(
        d.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert!(d.body.starts_with("payload="));
    verify(d);
    let package_id = d.json["package"]["id"].as_i64().expect("id");
    assert_eq!(d.json["package"]["visibility"], "private");

    // Another file in the same version: `updated`.
    assert_eq!(
        app.put_generic(Some(&token), "ines/secret/1.0/b.txt", "two")
            .await
            .status(),
        201
    );
    let updated = receiver
        .wait_for(1, |r| r.json["action"] == "updated")
        .await;
    verify(&updated[0]);
    assert_eq!(
        updated[0].json["package"]["package_version"]["version"],
        "1.0"
    );

    let pkg = base64::engine::general_purpose::STANDARD.encode(format!("Package:{package_id}"));
    app.gql_ok(
        Some(&token),
        "mutation($id: ID!) { deletePackage(input: {packageId: $id}) { clientMutationId } }",
        json!({"id": pkg}),
    )
    .await;
    app.gql_ok(
        Some(&token),
        "mutation($id: ID!) { restorePackage(input: {packageId: $id}) { clientMutationId } }",
        json!({"id": pkg}),
    )
    .await;
    let deleted = receiver
        .wait_for(1, |r| r.json["action"] == "deleted")
        .await;
    let restored = receiver
        .wait_for(1, |r| r.json["action"] == "restored")
        .await;
    verify(&deleted[0]);
    verify(&restored[0]);
    assert_eq!(restored[0].json["package"]["name"], "secret");

    // Settle, then count: exactly one published, nothing for the refused duplicate, and
    // omar's hook got none of ines's events.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = receiver.all();
    assert_eq!(
        all.iter()
            .filter(|r| r.json["action"] == "published")
            .count(),
        1
    );
    let omar_id = omar_hook["id"].as_str().expect("id").to_string();
    let omar_numeric = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&omar_id)
            .expect("b64"),
    )
    .expect("utf8");
    let omar_numeric = omar_numeric.rsplit(':').next().expect("n").to_string();
    assert!(
        all.iter()
            .filter(|r| r.header("x-github-hook-id") == omar_numeric)
            .all(|r| r.header("x-github-event") == "ping"),
        "omar's hook got ines's events"
    );
    // omar can't see ines's hooks either.
    let body = app
        .graphql(
            Some(&other),
            "query { user(login: \"ines\") { webhooks(first: 10) { totalCount } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_array(), "{body}");
}

/// The receiver is down: deliveries retry with backoff (and survive a server restart);
/// once it is up the event arrives once, with the delivery id GraphQL shows; a redelivery
/// keeps that id.
#[tokio::test]
async fn webhook_retries_survive_a_restart_and_redelivery_keeps_the_id() {
    let mut app = TestApp::spawn_with(&[ALLOW_LOCAL, FAST_RETRIES]).await;
    let token = app.user_with_token("jo");
    // A port nothing listens on (yet).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let hook = create_hook(
        &app,
        &token,
        "jo",
        &format!("http://127.0.0.1:{port}/hook"),
        json!({"events": ["PUBLISHED"]}),
    )
    .await;
    let hook_id = hook["id"].as_str().expect("id").to_string();
    assert_eq!(
        app.put_generic(Some(&token), "jo/tool/1.0/t.bin", "x")
            .await
            .status(),
        201
    );

    // Two failed attempts at least, then a restart mid-retry.
    let started = Instant::now();
    let guid = loop {
        let ds = deliveries(&app, &token, &hook_id).await;
        if let Some(d) = ds.iter().find(|d| d["event"] == "package")
            && d["attempts"].as_i64().unwrap_or(0) >= 2
        {
            assert_eq!(d["status"], "PENDING", "{d:#}");
            assert!(d["error"].as_str().is_some_and(|e| !e.is_empty()));
            break d["guid"].as_str().expect("guid").to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no retries: {ds:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    app.restart().await;
    let receiver = Receiver::default();
    let (_, _server) = receiver.start(port).await;
    let got = receiver
        .wait_for(1, |r| r.json["action"] == "published")
        .await;
    verify(&got[0]);
    assert_eq!(got[0].header("x-github-delivery"), guid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        receiver
            .all()
            .iter()
            .filter(|r| r.json["action"] == "published")
            .count(),
        1,
        "delivered once"
    );
    let ds = deliveries(&app, &token, &hook_id).await;
    let d = ds
        .iter()
        .find(|d| d["guid"] == guid.as_str())
        .expect("delivery");
    assert_eq!(d["status"], "DELIVERED");
    assert_eq!(d["statusCode"], 204);
    assert!(
        d["requestBody"]
            .as_str()
            .expect("body")
            .contains("\"published\"")
    );
    assert!(
        d["requestHeaders"]
            .as_array()
            .expect("headers")
            .iter()
            .any(|h| h["name"] == "X-GitHub-Delivery" && h["value"] == guid.as_str())
    );

    let again = app
        .gql_ok(
            Some(&token),
            "mutation($id: ID!) { redeliverWebhookDelivery(input: {deliveryId: $id}) { delivery { guid redelivery } } }",
            json!({"id": d["id"]}),
        )
        .await;
    assert_eq!(
        again["redeliverWebhookDelivery"]["delivery"]["guid"],
        guid.as_str()
    );
    assert_eq!(
        again["redeliverWebhookDelivery"]["delivery"]["redelivery"],
        true
    );
    let both = receiver
        .wait_for(2, |r| r.json["action"] == "published")
        .await;
    assert!(both.iter().all(|r| r.header("x-github-delivery") == guid));
}

/// Without the allow-list a loopback payload URL is never contacted; bad URLs are refused
/// when the hook is created; only the owner's admins manage hooks.
#[tokio::test]
async fn webhook_targets_are_guarded_and_hooks_are_their_owners() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("kai");
    let other = app.user_with_token("lea");
    let receiver = Receiver::default();
    let (port, _server) = receiver.start(0).await;
    let hook = create_hook(
        &app,
        &token,
        "kai",
        &format!("http://localhost:{port}/hook"),
        json!({}),
    )
    .await;
    let hook_id = hook["id"].as_str().expect("id").to_string();
    let started = Instant::now();
    loop {
        let ds = deliveries(&app, &token, &hook_id).await;
        if let Some(d) = ds.first().filter(|d| d["status"] == "FAILED") {
            let error = d["error"].as_str().expect("error");
            assert!(error.contains("loopback"), "{error}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{ds:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        receiver.all().is_empty(),
        "a loopback receiver was contacted"
    );

    for bad in [
        "ftp://example.com/hook",
        "not a url",
        "https://user:pw@example.com/",
    ] {
        let body = app
            .graphql(
                Some(&token),
                CREATE,
                json!({"i": {"owner": "kai", "url": bad}}),
            )
            .await;
        assert!(body["errors"].is_array(), "{bad}: {body}");
    }
    // Someone else can't create, read, change or delete kai's hooks.
    let body = app
        .graphql(
            Some(&other),
            CREATE,
            json!({"i": {"owner": "kai", "url": "https://example.com/"}}),
        )
        .await;
    assert!(body["errors"].is_array(), "{body}");
    for q in [
        "query($id: ID!) { webhook(id: $id) { url } }",
        "mutation($id: ID!) { updateWebhook(input: {webhookId: $id, active: false}) { webhook { active } } }",
        "mutation($id: ID!) { deleteWebhook(input: {webhookId: $id}) { success } }",
    ] {
        let body = app.graphql(Some(&other), q, json!({"id": hook_id})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{q}: {body}"
        );
    }
    // The owner can; the secret never comes back.
    let data = app
        .gql_ok(
            Some(&token),
            "mutation($id: ID!) { updateWebhook(input: {webhookId: $id, active: false, secret: \"\"}) { webhook { active hasSecret } } }",
            json!({"id": hook_id}),
        )
        .await;
    assert_eq!(
        data["updateWebhook"]["webhook"],
        json!({"active": false, "hasSecret": false})
    );
    let list = app
        .gql_ok(
            Some(&token),
            "query { user(login: \"kai\") { webhooks(first: 10) { totalCount nodes { url } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["user"]["webhooks"]["totalCount"], 1);
    app.gql_ok(
        Some(&token),
        "mutation($id: ID!) { deleteWebhook(input: {webhookId: $id}) { success } }",
        json!({"id": hook_id}),
    )
    .await;
}
