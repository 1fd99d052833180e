//! GitHub's GraphQL shapes for what scripts written for GitHub ask: `PackageVersion.files`
//! as a `PackageFileConnection` with `orderBy: PackageFileOrder`, and `DOCKER` (GitHub's
//! deprecated name for images) as a `PackageType`.
use serde_json::{Value, json};

use crate::support::TestApp;

const FILES: &str = r#"query($first: Int, $last: Int, $after: String, $before: String, $order: PackageFileOrder) {
  package(owner: "hank", packageType: GENERIC, name: "multi") { version(version: "1.0.0") {
    files(first: $first, last: $last, after: $after, before: $before, orderBy: $order) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { name } edges { cursor node { name size } } } } } }"#;

fn names(data: &Value) -> Vec<String> {
    data["package"]["version"]["files"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test]
async fn version_files_page_as_a_github_package_file_connection() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("hank");
    for f in ["a.txt", "b.txt", "c.txt"] {
        let r = app
            .put_generic(Some(&token), &format!("hank/multi/1.0.0/{f}"), f)
            .await;
        assert_eq!(r.status(), 201);
    }
    let files = |vars: Value| {
        let (app, token) = (&app, &token);
        async move { app.gql_ok(Some(token), FILES, vars).await }
    };

    // Upload order by default, two a page, then the rest after the cursor.
    let first = files(json!({"first": 2})).await;
    assert_eq!(names(&first), ["a.txt", "b.txt"]);
    let conn = &first["package"]["version"]["files"];
    assert_eq!(conn["totalCount"], 3);
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    assert_eq!(conn["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(conn["edges"][1]["node"]["name"], "b.txt");
    assert_eq!(conn["edges"][1]["node"]["size"], 5);
    assert_eq!(conn["edges"][1]["cursor"], conn["pageInfo"]["endCursor"]);
    let rest = files(json!({"first": 2, "after": conn["pageInfo"]["endCursor"]})).await;
    assert_eq!(names(&rest), ["c.txt"]);
    assert_eq!(
        rest["package"]["version"]["files"]["pageInfo"]["hasNextPage"],
        false
    );

    // GitHub's PackageFileOrder: {field: CREATED_AT, direction}.
    let newest_first =
        files(json!({"first": 10, "order": {"field": "CREATED_AT", "direction": "DESC"}})).await;
    assert_eq!(names(&newest_first), ["c.txt", "b.txt", "a.txt"]);
    let oldest_first =
        files(json!({"first": 10, "order": {"field": "CREATED_AT", "direction": "ASC"}})).await;
    assert_eq!(names(&oldest_first), ["a.txt", "b.txt", "c.txt"]);
    // `last` pages from the end; without first/last a connection gives its default page.
    assert_eq!(names(&files(json!({"last": 1})).await), ["c.txt"]);
    assert_eq!(names(&files(json!({})).await), ["a.txt", "b.txt", "c.txt"]);

    // GitHub's ceiling per connection.
    let refused = app
        .graphql(Some(&token), FILES, json!({"first": 101}))
        .await;
    assert!(refused["errors"].is_array(), "{refused:#}");
}

#[tokio::test]
async fn docker_is_accepted_as_the_container_package_type() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("hank");
    let r = app
        .put_generic(Some(&token), "hank/tool/1.0.0/f", "x")
        .await;
    assert_eq!(r.status(), 201);
    let count = |t: &'static str| {
        let (app, token) = (&app, &token);
        async move {
            app.gql_ok(
                Some(token),
                "query($t: PackageType) { viewer { packages(first: 10, packageType: $t) { totalCount } } }",
                json!({"t": t}),
            )
            .await["viewer"]["packages"]["totalCount"]
                .as_u64()
                .expect("totalCount")
        }
    };
    assert_eq!(count("GENERIC").await, 1);
    assert_eq!(count("DOCKER").await, 0);
    assert_eq!(count("CONTAINER").await, 0);
    // The schema says DOCKER is deprecated in favour of CONTAINER, as GitHub's does.
    let enum_values = app
        .gql_ok(
            None,
            r#"{ __type(name: "PackageType") { enumValues(includeDeprecated: true) { name isDeprecated } } }"#,
            json!({}),
        )
        .await;
    let docker = enum_values["__type"]["enumValues"]
        .as_array()
        .expect("values")
        .iter()
        .find(|v| v["name"] == "DOCKER")
        .cloned()
        .expect("DOCKER");
    assert_eq!(docker["isDeprecated"], true);
}
