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

/// GitHub's API version header, `Link` pages, parameter validation, the owner kind in the
/// path, the Docker-migration lists, and a container version's tags.
#[tokio::test]
async fn github_rest_versions_pages_validation_and_conflicts() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("iris");
    app.create_org("initech", "iris");
    for n in 1..=3 {
        app.put_generic(Some(&token), &format!("initech/p{n}/1/f"), "x")
            .await;
    }
    let get = |path: &str, version: Option<&'static str>| {
        let mut req = app
            .http
            .get(format!("{}{path}", app.url))
            .bearer_auth(&token);
        if let Some(v) = version {
            req = req.header("X-GitHub-Api-Version", v);
        }
        req.send()
    };

    let ok = get(
        "/api/v3/orgs/initech/packages?per_page=1&page=2",
        Some("2022-11-28"),
    )
    .await
    .expect("get");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-github-api-version-selected"], "2022-11-28");
    let link = ok.headers()["link"].to_str().expect("ascii").to_string();
    let url = |page: u32| {
        format!(
            "<{}/api/v3/orgs/initech/packages?per_page=1&page={page}>",
            app.url
        )
    };
    assert_eq!(
        link,
        format!(
            "{}; rel=\"prev\", {}; rel=\"next\", {}; rel=\"last\", {}; rel=\"first\"",
            url(1),
            url(3),
            url(3),
            url(1)
        )
    );
    let page: Value = ok.json().await.expect("json");
    assert_eq!(page[0]["name"], "p2");
    // One page, no Link.
    let all = get("/api/v3/orgs/initech/packages", None)
        .await
        .expect("get");
    assert!(all.headers().get("link").is_none());

    let old = get("/api/v3/orgs/initech/packages", Some("2021-01-01"))
        .await
        .expect("get");
    assert_eq!(old.status(), 400);
    let body: Value = old.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("2021-01-01"),
        "{body}"
    );
    assert!(body["documentation_url"].is_string());

    for bad in [
        "/api/v3/orgs/initech/packages?package_type=pypi",
        "/api/v3/orgs/initech/packages?visibility=secret",
        "/api/v3/orgs/initech/packages?per_page=ten",
        "/api/v3/orgs/initech/packages/generic/p1/versions?state=gone",
        "/api/v3/orgs/initech/packages/pypi/p1",
    ] {
        let r = get(bad, None).await.expect("get");
        assert_eq!(r.status(), 422, "{bad}");
        let body: Value = r.json().await.expect("json");
        assert!(
            body["message"]
                .as_str()
                .expect("message")
                .starts_with("Invalid request."),
            "{bad}: {body}"
        );
    }
    // An organization is not a user, nor the other way round; unknown paths are GitHub 404s.
    for missing in [
        "/api/v3/users/initech/packages",
        "/api/v3/orgs/iris/packages",
        "/api/v3/orgs/initech/packages/generic/p1/versions/abc",
        "/api/v3/orgs/initech/nothing",
    ] {
        let r = get(missing, None).await.expect("get");
        assert_eq!(r.status(), 404, "{missing}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["message"], "Not Found", "{missing}");
    }
    for conflicts in [
        "/api/v3/user/docker/conflicts",
        "/api/v3/orgs/initech/docker/conflicts",
        "/api/v3/users/iris/docker/conflicts",
    ] {
        let r = get(conflicts, None).await.expect("get");
        assert_eq!(r.status(), 200, "{conflicts}");
        assert_eq!(r.json::<Value>().await.expect("json"), json!([]));
    }
    assert_eq!(
        app.get(None, "/api/v3/user/docker/conflicts")
            .await
            .status(),
        401
    );
}
