//! The package index behind every index-serving door (npm packuments today): one authorized
//! read in a constant number of statements whatever the version count, served from the read
//! cache while the package is public and unchanged, and fresh after every change.
use serde_json::json;

use crate::{
    npm_documents::{packument, publish, versions},
    support::TestApp,
};

/// Statements the server ran for one anonymous GET of `path`, and the response's status.
async fn statements_for(app: &TestApp, path: &str) -> (u64, u16) {
    let before = app.sql_statements().await;
    let status = app.get(None, path).await.status().as_u16();
    (app.sql_statements().await - before, status)
}

#[tokio::test]
async fn package_index_reads_a_constant_number_of_statements_and_follows_every_change() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("ida");
    let name = "@ida/indexed";
    let path = "/npm/@ida%2findexed";
    publish(&app, &token, name, "1.0.0").await;
    publish(&app, &token, name, "1.0.1").await;
    let id = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "ida", packageType: NPM, name: "indexed") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&token), r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#, json!({"p": id})).await;

    let (cold_two, status) = statements_for(&app, path).await;
    assert_eq!(status, 200);
    let (warm, status) = statements_for(&app, path).await;
    assert_eq!(status, 200);
    assert!(cold_two > 0, "the first read after a change is cold");
    assert_eq!(warm, 0, "a cached public packument reads nothing");

    for patch in 2..12 {
        publish(&app, &token, name, &format!("1.0.{patch}")).await;
    }
    // Every publish invalidated the cached index and documents: this read is cold again.
    let (cold_twelve, status) = statements_for(&app, path).await;
    assert_eq!(status, 200);
    assert_eq!(
        cold_two, cold_twelve,
        "statements grew with the versions: {cold_two} for 2, {cold_twelve} for 12"
    );
    let doc = packument(&app, &token, name).await;
    assert_eq!(versions(&doc).len(), 12);
    assert_eq!(doc["dist-tags"]["latest"], "1.0.11");
}
