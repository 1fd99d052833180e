//! Hostile and edge-case npm documents, sent as raw HTTP: what the CLI never sends, a client
//! might.
use base64::Engine;
use serde_json::{Value, json};

use crate::support::{TestApp, peak_rss_kib};

/// A `.tgz` holding `package/package.json` for `name@version`.
fn tarball(name: &str, version: &str) -> Vec<u8> {
    let manifest = json!({"name": name, "version": version}).to_string();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "package/package.json", manifest.as_bytes())
        .expect("append");
    builder.into_inner().expect("tar").finish().expect("gzip")
}

/// npm's publish document for `@scope/name@version`, as text (so a test can rewrite keys
/// the way no JSON serializer would write them).
fn publish_document(name: &str, version: &str) -> String {
    let short = name.rsplit('/').next().expect("name");
    let tgz = tarball(name, version);
    json!({
        "name": name,
        "versions": {version: {"name": name, "version": version}},
        "dist-tags": {"latest": version},
        "_attachments": {format!("{short}-{version}.tgz"): {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(&tgz),
            "length": tgz.len(),
        }},
    })
    .to_string()
}

async fn put(
    app: &TestApp,
    token: &str,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let resp = app
        .http
        .put(format!("{}{path}", app.url))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("put");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn publish(app: &TestApp, token: &str, name: &str, version: &str) {
    let path = format!("/npm/{}", name.replace('/', "%2f"));
    let (status, body) = put(app, token, &path, publish_document(name, version)).await;
    assert_eq!(status, 201, "publish {name}@{version}: {body}");
}

pub(crate) async fn packument(app: &TestApp, token: &str, name: &str) -> Value {
    let resp = app
        .get(Some(token), &format!("/npm/{}", name.replace('/', "%2f")))
        .await;
    assert_eq!(resp.status(), 200, "packument of {name}");
    resp.json().await.expect("json")
}

pub(crate) fn versions(doc: &Value) -> Vec<String> {
    let mut v: Vec<String> = doc["versions"]
        .as_object()
        .expect("versions")
        .keys()
        .cloned()
        .collect();
    v.sort();
    v
}

/// A 16 MiB document of `[` (or of one huge array) is refused, in npm's error shape,
/// without the server's memory following the document's nesting or value count.
#[tokio::test]
async fn npm_hostile_documents_are_refused_within_bounded_memory() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("deep");
    const SIZE: usize = 16 * 1024 * 1024;
    let deep = || vec![b'['; SIZE];
    // A publish's manifest is parsed whole: 16 MiB of `0,` would be 8 Mi values.
    let mut wide = br#"{"name":"@deep/x","_attachments":{"x-1.0.0.tgz":{"data":"QUJD"}},"versions":{"1.0.0":{"x":["#.to_vec();
    while wide.len() < SIZE - 5 {
        wide.extend_from_slice(b"0,");
    }
    wide.extend_from_slice(b"0]}}}");
    let sends = (0..4).map(|_| put(&app, &token, "/npm/@deep%2fx", deep()));
    for (status, body) in futures::future::join_all(sends).await {
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]
                .as_str()
                .expect("npm error")
                .contains("deeper"),
            "{body}"
        );
    }
    let (status, body) = put(&app, &token, "/npm/@deep%2fx", wide).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("npm error")
            .contains("values")
    );
    let peak_mib = peak_rss_kib(app.pid()) / 1024;
    eprintln!("hostile npm documents: server peak RSS {peak_mib} MiB");
    assert!(peak_mib < 100, "server peak RSS {peak_mib} MiB");
    assert_eq!(app.get(Some(&token), "/npm/@deep%2fx").await.status(), 404);
}

/// `"_attachment\u0073"` is `_attachments`: the document is a publish, not an update
/// that lists no versions (which unpublished every version).
#[tokio::test]
async fn npm_escaped_attachments_key_is_still_a_publish() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("esc");
    publish(&app, &token, "@esc/pkg", "1.0.0").await;
    let doc = publish_document("@esc/pkg", "2.0.0")
        .replace(r#""_attachments":"#, r#""_attachment\u0073":"#);
    assert!(doc.contains(r#"_attachment\u0073"#));
    let (status, body) = put(&app, &token, "/npm/@esc%2fpkg", doc).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        versions(&packument(&app, &token, "@esc/pkg").await),
        ["1.0.0", "2.0.0"]
    );
    // Attachment data the registry can't take (not a string) is refused, not ignored.
    let doc = publish_document("@esc/pkg", "3.0.0");
    let mut odd: Value = serde_json::from_str(&doc).expect("json");
    odd["_attachments"]["pkg-3.0.0.tgz"]["data"] = json!(["QUJD"]);
    let (status, body) = put(&app, &token, "/npm/@esc%2fpkg", odd.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        versions(&packument(&app, &token, "@esc/pkg").await),
        ["1.0.0", "2.0.0"]
    );
}

/// An update must carry the current `_rev`, may only list published versions, and never
/// removes every version (npm unpublishes a whole package with `DELETE /-rev/REV`).
#[tokio::test]
async fn npm_update_documents_need_the_revision_and_keep_a_version() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("rev");
    publish(&app, &token, "@rev/pkg", "1.0.0").await;
    publish(&app, &token, "@rev/pkg", "2.0.0").await;
    let current = packument(&app, &token, "@rev/pkg").await;
    let rev = current["_rev"].as_str().expect("_rev").to_string();

    let no_rev = json!({"name": "@rev/pkg", "versions": {}});
    let (status, body) = put(&app, &token, "/npm/@rev%2fpkg", no_rev.to_string()).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().expect("error").contains("_rev"));
    let mut without = current.clone();
    without.as_object_mut().expect("doc").remove("_rev");
    without["versions"]
        .as_object_mut()
        .expect("versions")
        .remove("2.0.0");
    let (status, body) = put(&app, &token, "/npm/@rev%2fpkg", without.to_string()).await;
    assert_eq!(status, 409, "{body}");

    let empty = json!({"name": "@rev/pkg", "_rev": rev, "versions": {}});
    let (status, body) = put(&app, &token, "/npm/@rev%2fpkg", empty.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("every version")
    );
    let mut unknown = current.clone();
    unknown["versions"]["9.9.9"] = json!({"name": "@rev/pkg", "version": "9.9.9"});
    let (status, body) = put(&app, &token, "/npm/@rev%2fpkg", unknown.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        versions(&packument(&app, &token, "@rev/pkg").await),
        ["1.0.0", "2.0.0"]
    );

    // npm unpublish pkg@2.0.0: the document without it, with its `_rev`.
    let mut drop = current.clone();
    drop["versions"]
        .as_object_mut()
        .expect("versions")
        .remove("2.0.0");
    drop["dist-tags"]["latest"] = json!("1.0.0");
    let (status, body) = put(
        &app,
        &token,
        &format!("/npm/@rev%2fpkg/-rev/{rev}"),
        drop.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let after = packument(&app, &token, "@rev/pkg").await;
    assert_eq!(versions(&after), ["1.0.0"]);
    assert_eq!(after["dist-tags"]["latest"], "1.0.0");
}

/// A writer's document that deprecates a version, moves a tag and drops another version is
/// refused whole (dropping needs delete): nothing of it is applied.
#[tokio::test]
async fn npm_update_document_is_authorized_whole_before_any_change() {
    let app = TestApp::spawn().await;
    let owner = app.user_with_token("boss");
    let writer = app.user_with_token("wanda");
    publish(&app, &owner, "@boss/pkg", "1.0.0").await;
    publish(&app, &owner, "@boss/pkg", "2.0.0").await;
    publish(&app, &owner, "@boss/pkg", "3.0.0").await;
    let id = app
        .gql_ok(
            Some(&owner),
            r#"{ package(owner: "boss", packageType: NPM, name: "pkg") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&owner), r#"mutation($p: ID!) { grantPackageAccess(input: {packageId: $p, login: "wanda", role: WRITE}) { grant { role } } }"#, json!({"p": id})).await;

    let before = packument(&app, &writer, "@boss/pkg").await;
    let rev = before["_rev"].as_str().expect("_rev").to_string();
    let mut doc = before.clone();
    doc["versions"]["1.0.0"]["deprecated"] = json!("use 3");
    doc["versions"]
        .as_object_mut()
        .expect("versions")
        .remove("2.0.0");
    doc["dist-tags"]["next"] = json!("1.0.0");
    let path = format!("/npm/@boss%2fpkg/-rev/{rev}");
    let (status, body) = put(&app, &writer, &path, doc.to_string()).await;
    assert_eq!(status, 403, "{body}");
    let after = packument(&app, &writer, "@boss/pkg").await;
    assert_eq!(after, before, "nothing of a refused document is applied");

    // A tag the document can't move fails it whole too.
    let mut doc = before.clone();
    doc["versions"]["1.0.0"]["deprecated"] = json!("use 3");
    doc["dist-tags"]["1.x"] = json!("1.0.0");
    let (status, body) = put(&app, &writer, &path, doc.to_string()).await;
    assert_eq!(status, 400, "{body}");
    let after = packument(&app, &writer, "@boss/pkg").await;
    assert_eq!(after, before, "nothing of a refused document is applied");

    // Without the drop, the writer's deprecation and tag move are applied together.
    let mut doc = before.clone();
    doc["versions"]["1.0.0"]["deprecated"] = json!("use 3");
    doc["dist-tags"]["next"] = json!("1.0.0");
    let (status, body) = put(&app, &writer, &path, doc.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let after = packument(&app, &writer, "@boss/pkg").await;
    assert_eq!(after["versions"]["1.0.0"]["deprecated"], "use 3");
    assert_eq!(after["dist-tags"]["next"], "1.0.0");
    assert_eq!(versions(&after), ["1.0.0", "2.0.0", "3.0.0"]);
    assert_ne!(after["_rev"], before["_rev"]);
}

/// A 416 says how big the tarball is; a republish's 409 says whether the version exists
/// or was unpublished.
#[tokio::test]
async fn npm_range_and_conflict_answers_say_what_is_there() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("tess");
    publish(&app, &token, "@tess/pkg", "1.0.0").await;
    publish(&app, &token, "@tess/pkg", "2.0.0").await;
    let size = app
        .get(Some(&token), "/npm/@tess/pkg/-/pkg-1.0.0.tgz")
        .await
        .bytes()
        .await
        .expect("tarball")
        .len();
    let resp = app
        .http
        .get(format!("{}/npm/@tess/pkg/-/pkg-1.0.0.tgz", app.url))
        .bearer_auth(&token)
        .header("Range", "bytes=999999-")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );
    assert!(resp.json::<Value>().await.expect("json")["error"].is_string());

    let (status, body) = put(
        &app,
        &token,
        "/npm/@tess%2fpkg",
        publish_document("@tess/pkg", "1.0.0"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let live = body["error"].as_str().expect("error");
    assert!(live.contains("already exists"), "{live}");
    assert!(!live.contains("unpublished"), "{live}");

    let resp = app
        .delete(Some(&token), "/npm/@tess/pkg/-/pkg-2.0.0.tgz/-rev/x")
        .await;
    assert_eq!(resp.status(), 200);
    let (status, body) = put(
        &app,
        &token,
        "/npm/@tess%2fpkg",
        publish_document("@tess/pkg", "2.0.0"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("unpublished"),
        "{body}"
    );
}

/// With debug logging on, a token in a request path (npm logout, `npm token revoke TOKEN`)
/// never reaches the log.
#[tokio::test]
async fn npm_tokens_in_paths_are_not_logged() {
    let app = TestApp::spawn_with(&[("RUST_LOG", "debug")]).await;
    let token = app.user_with_token("logan");
    let other = app.token("logan", "read:packages");
    let resp = app
        .delete(Some(&token), &format!("/npm/-/npm/v1/tokens/token/{other}"))
        .await;
    assert_eq!(resp.status(), 204);
    let resp = app
        .delete(Some(&token), &format!("/npm/-/user/token/{token}"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.get(Some(&token), "/npm/-/whoami").await.status(), 401);
    let log = app.log();
    assert!(log.contains("/npm/-/user/token/[redacted]"), "{log}");
    assert!(!log.contains(&token), "the logout token is logged");
    assert!(!log.contains(&other), "the revoked token is logged");
}

/// The bodies the npm door reads whole (a dist-tag's version, a login) are small.
#[tokio::test]
async fn npm_small_bodies_are_bounded() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("sam");
    publish(&app, &token, "@sam/pkg", "1.0.0").await;
    let huge = format!("\"{}\"", "1".repeat(4 * 1024 * 1024));
    let (status, _) = put(
        &app,
        &token,
        "/npm/-/package/@sam%2fpkg/dist-tags/beta",
        huge,
    )
    .await;
    assert_eq!(status, 413);
    let (status, body) = put(
        &app,
        &token,
        "/npm/-/package/@sam%2fpkg/dist-tags/beta",
        "\"1.0.0\"",
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// Every npm endpoint answers the same whether the client writes `@scope%2fname` (one
/// segment) or `@scope/name`: both spellings reach the one handler, for a package that
/// exists and one that doesn't, signed in or not.
#[tokio::test]
async fn both_spellings_of_a_scoped_name_answer_alike() {
    let app = TestApp::spawn().await;
    app.create_user("alice");
    let token = app.token("alice", "read:packages,write:packages");
    for (method, template, body) in [
        ("GET", "/npm/{pkg}", None),
        ("PUT", "/npm/{pkg}", Some("{}")),
        ("PUT", "/npm/{pkg}/-rev/1-abc", Some("{}")),
        ("DELETE", "/npm/{pkg}/-rev/1-abc", None),
        ("GET", "/npm/{pkg}/-/pad-1.0.0.tgz", None),
        ("HEAD", "/npm/{pkg}/-/pad-1.0.0.tgz", None),
        ("DELETE", "/npm/{pkg}/-/pad-1.0.0.tgz/-rev/1-abc", None),
        ("GET", "/npm/-/package/{pkg}/dist-tags", None),
        (
            "PUT",
            "/npm/-/package/{pkg}/dist-tags/beta",
            Some("\"1.0.0\""),
        ),
        ("DELETE", "/npm/-/package/{pkg}/dist-tags/beta", None),
    ] {
        for signed_in in [false, true] {
            let mut answers = Vec::new();
            for pkg in ["@alice%2fpad", "@alice/pad", "@alice%2Fpad"] {
                let url = format!("{}{}", app.url, template.replace("{pkg}", pkg));
                let mut req = app.http.request(method.parse().expect("method"), &url);
                if signed_in {
                    req = req.bearer_auth(&token);
                }
                if let Some(body) = body {
                    req = req.header("content-type", "application/json").body(body);
                }
                let resp = req.send().await.expect("request");
                let status = resp.status();
                answers.push((status, resp.text().await.expect("body")));
            }
            assert_ne!(answers[0].0, 405, "{method} {template}: no route");
            assert!(
                answers.iter().all(|a| *a == answers[0]),
                "{method} {template} (signed in: {signed_in}): {answers:?}"
            );
        }
    }
}
