//! The GitHub-compatible REST API for packages.
use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test]
async fn github_shaped_packages_api() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("hank");
    app.create_org("hooli", "hank");
    for v in ["1.0.0", "1.1.0"] {
        assert_eq!(
            app.put_generic(Some(&token), &format!("hooli/cli/{v}/cli.bin"), v)
                .await
                .status(),
            201
        );
    }
    app.put_generic(Some(&token), "hank/dotfiles/1/f", "x")
        .await;

    let list: Value = app
        .get(
            Some(&token),
            "/api/v3/orgs/hooli/packages?package_type=generic",
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.as_array().expect("array").len(), 1);
    let pkg = &list[0];
    assert_eq!(pkg["name"], "cli");
    assert_eq!(pkg["package_type"], "generic");
    assert_eq!(pkg["visibility"], "private");
    assert_eq!(pkg["version_count"], 2);
    assert_eq!(pkg["owner"]["login"], "hooli");
    assert_eq!(pkg["owner"]["type"], "Organization");
    assert_eq!(
        pkg["url"],
        format!("{}/api/v3/orgs/hooli/packages/generic/cli", app.url)
    );

    let mine: Value = app
        .get(Some(&token), "/api/v3/user/packages")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(mine[0]["name"], "dotfiles");
    let anonymous = app.get(None, "/api/v3/user/packages").await;
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.expect("json");
    assert!(body["documentation_url"].is_string());
    // Private: anonymous callers are asked to sign in, as for a missing package.
    assert_eq!(
        app.get(None, "/api/v3/orgs/hooli/packages/generic/cli")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.get(
            Some(&token),
            "/api/v3/orgs/hooli/packages?per_page=100&page=101"
        )
        .await
        .status(),
        400
    );

    let versions: Value = app
        .get(
            Some(&token),
            "/api/v3/orgs/hooli/packages/generic/cli/versions?per_page=1",
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(versions.as_array().expect("array").len(), 1);
    assert_eq!(versions[0]["name"], "1.1.0");
    assert_eq!(versions[0]["metadata"], json!({"package_type": "generic"}));
    // An organization's version URLs are under /orgs, as its package's are.
    assert_eq!(
        versions[0]["url"],
        format!(
            "{}/api/v3/orgs/hooli/packages/generic/cli/versions/{}",
            app.url, versions[0]["id"]
        )
    );
    // A linked repository shows as `repository`, to those who can see it.
    let repo = app.gql_ok(Some(&token), r#"mutation { createRepository(input: {ownerLogin: "hooli", name: "tools"}) { repository { id } } }"#, json!({})).await["createRepository"]["repository"]["id"].as_str().expect("id").to_string();
    app.put_generic(Some(&token), "hooli/linked/1/f", "x").await;
    let id = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "hooli", packageType: GENERIC, name: "linked") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&token), r#"mutation($p: ID!, $r: ID!) { linkPackageRepository(input: {packageId: $p, repositoryId: $r}) { package { id } } }"#, json!({"p": id, "r": repo})).await;
    let linked: Value = app
        .get(Some(&token), "/api/v3/orgs/hooli/packages/generic/linked")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(linked["repository"]["full_name"], "hooli/tools");
    assert_eq!(linked["repository"]["private"], true);
    let newest = versions[0]["id"].as_i64().expect("id");
    let oldest: Value = app
        .get(
            Some(&token),
            "/api/v3/orgs/hooli/packages/generic/cli/versions?per_page=1&page=2",
        )
        .await
        .json()
        .await
        .expect("json");
    let oldest = oldest[0]["id"].as_i64().expect("id");

    // Delete a version, refuse the last one, restore it.
    assert_eq!(
        app.delete(
            Some(&token),
            &format!("/api/v3/orgs/hooli/packages/generic/cli/versions/{newest}")
        )
        .await
        .status(),
        204
    );
    let last = app
        .delete(
            Some(&token),
            &format!("/api/v3/orgs/hooli/packages/generic/cli/versions/{oldest}"),
        )
        .await;
    assert_eq!(last.status(), 400);
    let deleted: Value = app
        .get(
            Some(&token),
            "/api/v3/orgs/hooli/packages/generic/cli/versions?state=deleted",
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(deleted[0]["id"], newest);
    let restored = app
        .http
        .post(format!(
            "{}/api/v3/orgs/hooli/packages/generic/cli/versions/{newest}/restore",
            app.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("post");
    assert_eq!(restored.status(), 204);
    let one: Value = app
        .get(
            Some(&token),
            &format!("/api/v3/orgs/hooli/packages/generic/cli/versions/{newest}"),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["name"], "1.1.0");
    assert!(one["deleted_at"].is_null());

    // Delete and restore the package by name.
    assert_eq!(
        app.delete(Some(&token), "/api/v3/orgs/hooli/packages/generic/cli")
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get(Some(&token), "/api/v3/orgs/hooli/packages/generic/cli")
            .await
            .status(),
        404
    );
    let back = app
        .http
        .post(format!(
            "{}/api/v3/orgs/hooli/packages/generic/cli/restore",
            app.url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("post");
    assert_eq!(back.status(), 204);
    let pkg: Value = app
        .get(Some(&token), "/api/v3/orgs/hooli/packages/generic/cli")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(pkg["version_count"], 2);
}
