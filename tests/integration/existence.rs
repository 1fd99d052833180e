//! No door tells a private package from a missing one: an anonymous caller gets the door's
//! 401 challenge for both, a signed-in outsider "not found" for both, for reads, writes and
//! deletes alike, and node ids answer as ids that don't exist. Public packages still read
//! anonymously.
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

/// An org `acme` (owner olga) with a private generic package `secret`, a private npm package
/// `@acme/secret`, a public generic package `open`, and an outsider eve.
struct World {
    app: TestApp,
    olga: String,
    eve: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let olga = app.user_with_token("olga");
    app.create_org("acme", "olga");
    let eve = app.user_with_token("eve");
    for path in ["acme/secret/1/f", "acme/secret/2/f", "acme/open/1/f"] {
        assert_eq!(app.put_generic(Some(&olga), path, "x").await.status(), 201);
    }
    let id = package_id(&app, &olga, "GENERIC", "open").await;
    app.gql_ok(Some(&olga), r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#, json!({"p": id})).await;
    let tarball = npm_tarball(&json!({"name": "@acme/secret", "version": "1.0.0"}));
    let doc = json!({
        "name": "@acme/secret",
        "versions": {"1.0.0": {"name": "@acme/secret", "version": "1.0.0"}},
        "dist-tags": {"latest": "1.0.0"},
        "_attachments": {"@acme/secret-1.0.0.tgz": {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(&tarball),
            "length": tarball.len(),
        }},
    });
    let resp = app
        .http
        .put(format!("{}/npm/@acme%2fsecret", app.url))
        .bearer_auth(&olga)
        .json(&doc)
        .send()
        .await
        .expect("publish");
    assert!(resp.status().is_success(), "npm publish: {}", resp.status());
    World { app, olga, eve }
}

/// An npm tarball: `package/package.json`, gzip'd.
fn npm_tarball(manifest: &Value) -> Vec<u8> {
    let content = manifest.to_string();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "package/package.json", content.as_bytes())
        .expect("append");
    builder.into_inner().expect("tar").finish().expect("gzip")
}

async fn package_id(app: &TestApp, token: &str, kind: &str, name: &str) -> String {
    let q =
        format!(r#"{{ package(owner: "acme", packageType: {kind}, name: "{name}") {{ id }} }}"#);
    app.gql_ok(Some(token), &q, json!({})).await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Status, `WWW-Authenticate` and body (with the package's name taken out) of a request.
async fn answer(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
    name: &str,
) -> (u16, bool, String) {
    let mut req = app.http.request(method, format!("{}{path}", app.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let challenge = resp.headers().contains_key("www-authenticate");
    let text = resp.text().await.expect("body").replace(name, "NAME");
    (status, challenge, text)
}

/// Each request (method, path with `NAME` for the package, body) asked about the private
/// package and a missing one, anonymously and as the outsider: the same answer each time,
/// 401 anonymously (with the door's challenge, where it has one), 404 signed in (or
/// `outsider` where the door has its own answer for both, as a publish's 403).
async fn alike(w: &World, challenge: bool, requests: &[(Method, &str, Option<Value>, u16)]) {
    for (method, path, body, outsider) in requests {
        let mut anonymous = Vec::new();
        let mut signed_in = Vec::new();
        for name in ["secret", "nothing"] {
            let p = path.replace("NAME", name);
            anonymous.push(answer(&w.app, None, method.clone(), &p, body.clone(), name).await);
            signed_in
                .push(answer(&w.app, Some(&w.eve), method.clone(), &p, body.clone(), name).await);
        }
        assert_eq!(anonymous[0], anonymous[1], "anonymous {method} {path}");
        assert_eq!(signed_in[0], signed_in[1], "eve {method} {path}");
        assert_eq!(
            (anonymous[0].0, anonymous[0].1),
            (401, challenge),
            "anonymous {method} {path}: {:?}",
            anonymous[0]
        );
        assert_eq!(
            signed_in[0].0, *outsider,
            "eve {method} {path}: {:?}",
            signed_in[0]
        );
    }
}

#[tokio::test]
async fn generic_door_answers_alike_for_private_and_missing_packages() {
    let w = world().await;
    alike(
        &w,
        true,
        &[
            (Method::GET, "/generic/acme/NAME/1/f", None, 404),
            (Method::HEAD, "/generic/acme/NAME/1/f", None, 404),
            (Method::PUT, "/generic/acme/NAME/3/f", None, 403),
            (Method::DELETE, "/generic/acme/NAME/1/f", None, 404),
            (Method::DELETE, "/generic/acme/NAME/2", None, 404),
        ],
    )
    .await;
    assert_eq!(
        w.app.get(None, "/generic/acme/open/1/f").await.status(),
        200
    );
    assert_eq!(
        w.app
            .get(Some(&w.olga), "/generic/acme/secret/1/f")
            .await
            .status(),
        200,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn npm_door_answers_alike_for_private_and_missing_packages() {
    let w = world().await;
    alike(
        &w,
        true,
        &[
            (Method::GET, "/npm/@acme%2fNAME", None, 404),
            (Method::GET, "/npm/@acme/NAME/-/NAME-1.0.0.tgz", None, 404),
            (
                Method::GET,
                "/npm/-/package/@acme%2fNAME/dist-tags",
                None,
                404,
            ),
            (
                Method::PUT,
                "/npm/-/package/@acme%2fNAME/dist-tags/beta",
                Some(json!("1.0.0")),
                404,
            ),
            (
                Method::DELETE,
                "/npm/-/package/@acme%2fNAME/dist-tags/beta",
                None,
                404,
            ),
            (
                Method::DELETE,
                "/npm/@acme/NAME/-/NAME-1.0.0.tgz/-rev/1",
                None,
                404,
            ),
        ],
    )
    .await;
    let packument = w.app.get(Some(&w.olga), "/npm/@acme%2fsecret").await;
    assert_eq!(packument.status(), 200, "nothing was deleted");
}

#[tokio::test]
async fn rest_door_answers_alike_for_private_and_missing_packages() {
    let w = world().await;
    // GitHub's REST sends no challenge with its 401.
    alike(
        &w,
        false,
        &[
            (
                Method::GET,
                "/api/v3/orgs/acme/packages/generic/NAME",
                None,
                404,
            ),
            (
                Method::GET,
                "/api/v3/orgs/acme/packages/generic/NAME/versions",
                None,
                404,
            ),
            (
                Method::DELETE,
                "/api/v3/orgs/acme/packages/generic/NAME",
                None,
                404,
            ),
            (
                Method::POST,
                "/api/v3/orgs/acme/packages/generic/NAME/restore",
                None,
                404,
            ),
        ],
    )
    .await;
    let open = w
        .app
        .get(None, "/api/v3/orgs/acme/packages/generic/open")
        .await;
    assert_eq!(open.status(), 200);
}

/// Node ids are sequential: a private package's or version's id answers exactly as an id
/// that doesn't exist, through `node` and every mutation that takes one.
#[tokio::test]
async fn graphql_ids_of_private_packages_answer_as_missing_ones() {
    let w = world().await;
    let app = &w.app;
    let id = package_id(app, &w.olga, "GENERIC", "secret").await;
    let versions = app
        .gql_ok(
            Some(&w.olga),
            r#"query($p: ID!) { node(id: $p) { ... on Package { versions { nodes { id } } } } }"#,
            json!({"p": id}),
        )
        .await;
    let version_id = versions["node"]["versions"]["nodes"][0]["id"]
        .as_str()
        .expect("version id")
        .to_string();
    let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let missing = encode("Package:999999");
    let missing_version = encode("PackageVersion:999999");
    let deleted_id = package_id(app, &w.olga, "NPM", "secret").await;
    app.gql_ok(
        Some(&w.olga),
        r#"mutation($p: ID!) { deletePackage(input: {packageId: $p}) { package { id } } }"#,
        json!({"p": deleted_id}),
    )
    .await;

    let queries = [
        r#"query($p: ID!) { node(id: $p) { id } }"#,
        r#"mutation($p: ID!) { deletePackage(input: {packageId: $p}) { package { id } } }"#,
        r#"mutation($p: ID!) { restorePackage(input: {packageId: $p}) { package { id } } }"#,
        r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#,
        r#"mutation($p: ID!) { setPackageInheritAccess(input: {packageId: $p, inheritAccess: false}) { package { id } } }"#,
    ];
    let version_queries = [
        r#"query($p: ID!) { node(id: $p) { id } }"#,
        r#"mutation($p: ID!) { deletePackageVersion(input: {packageVersionId: $p}) { packageVersion { id } } }"#,
        r#"mutation($p: ID!) { restorePackageVersion(input: {packageVersionId: $p}) { packageVersion { id } } }"#,
    ];
    let error = |body: Value| {
        let e = &body["errors"][0];
        (
            e["message"].clone(),
            e["extensions"]["code"].clone(),
            body["data"].clone(),
        )
    };
    let cases = queries
        .iter()
        .map(|q| (q, vec![id.clone(), deleted_id.clone(), missing.clone()]))
        .chain(
            version_queries
                .iter()
                .map(|q| (q, vec![version_id.clone(), missing_version.clone()])),
        );
    for (query, ids) in cases {
        for (who, token, code) in [
            ("anonymous", None, "UNAUTHENTICATED"),
            ("eve", Some(w.eve.as_str()), "NOT_FOUND"),
        ] {
            let mut answers = Vec::new();
            for i in &ids {
                answers.push(error(app.graphql(token, query, json!({"p": i})).await));
            }
            assert_eq!(answers[0].1, code, "{who} {query}: {:?}", answers[0]);
            assert!(
                answers.iter().all(|a| *a == answers[0]),
                "{who} {query}: {answers:?}"
            );
            let message = answers[0].0.as_str().unwrap_or_default();
            assert!(!message.contains("secret"), "{who} {query}: {message}");
        }
    }
    // By name: null for both.
    for token in [None, Some(w.eve.as_str())] {
        for name in ["secret", "nothing"] {
            let q = format!(
                r#"{{ package(owner: "acme", packageType: GENERIC, name: "{name}") {{ id }} }}"#
            );
            let data = app.gql_ok(token, &q, json!({})).await;
            assert_eq!(data["package"], Value::Null, "{name}");
        }
    }
    let open = app
        .gql_ok(
            None,
            r#"{ package(owner: "acme", packageType: GENERIC, name: "open") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(open["package"]["name"], "open");
}
