//! GitHub's own JavaScript clients against our API: `@octokit/rest` at `/api/v3` and
//! `@octokit/graphql` at `/api` (tests/clients/octokit-*.mjs), running what scripts
//! written for GitHub run.
use std::{path::PathBuf, process::Command};

use serde_json::Value;

use crate::support::TestApp;

fn octokit_dir() -> PathBuf {
    let dir = TestApp::repo_root().join(".tools/octokit");
    assert!(
        dir.join("node_modules/@octokit/rest").exists()
            && dir.join("node_modules/@octokit/graphql").exists(),
        "@octokit/rest and @octokit/graphql are missing: run scripts/install-deps.sh"
    );
    dir
}

/// Runs a client script with `env`, and returns the JSON line it prints.
fn run_client(app: &TestApp, script: &str, env: &[(&str, &str)]) -> Value {
    let out = Command::new("node")
        .arg(TestApp::repo_root().join("tests/clients").join(script))
        .env("OCTOKIT_DIR", octokit_dir())
        .envs(env.iter().copied())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        app.log()
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{stdout}"))
}

#[tokio::test]
async fn octokit_rest_lists_paginates_deletes_and_restores_packages() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("hank");
    app.create_org("hooli", "hank");
    for v in ["1.0.0", "1.1.0"] {
        let r = app
            .put_generic(Some(&token), &format!("hooli/pkg-1/{v}/f.bin"), v)
            .await;
        assert_eq!(r.status(), 201);
    }
    for n in 2..=5 {
        let r = app
            .put_generic(Some(&token), &format!("hooli/pkg-{n}/1.0.0/f.bin"), "x")
            .await;
        assert_eq!(r.status(), 201);
    }
    for v in ["1", "2"] {
        app.put_generic(Some(&token), &format!("hank/dotfiles/{v}/f"), v)
            .await;
    }

    let seen = run_client(
        &app,
        "octokit-rest.mjs",
        &[
            ("BASE_URL", &format!("{}/api/v3", app.url)),
            ("TOKEN", &token),
            ("ORG", "hooli"),
            ("USER_LOGIN", "hank"),
        ],
    );

    // Newest first, two a page; the Link header names the next and last pages by
    // absolute URL, and octokit.paginate walks all three pages.
    assert_eq!(seen["firstPage"], serde_json::json!(["pkg-5", "pkg-4"]));
    let link = seen["link"].as_str().expect("Link header");
    assert!(
        link.contains(&format!(
            "<{}/api/v3/orgs/hooli/packages?package_type=generic&per_page=2&page=2>; rel=\"next\"",
            app.url
        )),
        "{link}"
    );
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    assert_eq!(
        seen["paginated"],
        serde_json::json!(["pkg-1", "pkg-2", "pkg-3", "pkg-4", "pkg-5"])
    );
    assert_eq!(
        seen["package"],
        serde_json::json!({"name": "pkg-1", "type": "generic", "versions": 2, "owner": "hooli"})
    );
    assert_eq!(seen["versions"], serde_json::json!(["1.1.0", "1.0.0"]));
    assert_eq!(
        seen["version"],
        serde_json::json!({"name": "1.1.0", "type": "generic"})
    );
    assert_eq!(seen["deletedVersions"], serde_json::json!(["1.1.0"]));
    // GitHub's rule: the last version goes with its package, not alone.
    assert_eq!(seen["lastVersionDelete"]["status"], 400);
    assert_eq!(
        seen["restoredVersions"],
        serde_json::json!(["1.1.0", "1.0.0"])
    );
    assert_eq!(seen["afterDelete"]["status"], 404);
    assert_eq!(seen["afterDelete"]["message"], "Not Found");
    assert!(seen["afterDelete"]["docs"].is_string());
    assert_eq!(seen["afterRestore"], 2);
    assert_eq!(seen["mine"], serde_json::json!(["dotfiles"]));
    assert_eq!(seen["userVersions"], serde_json::json!(["2"]));
    assert_eq!(seen["conflicts"], serde_json::json!([]));
    assert_eq!(seen["anonymous"]["status"], 401);
    assert_eq!(seen["anonymous"]["message"], "Requires authentication");
    assert_eq!(seen["badType"]["status"], 422);
}

#[tokio::test]
async fn octokit_graphql_runs_the_delete_package_versions_action_queries() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("gwen");
    app.create_org("acme", "gwen");
    let repo = app
        .gql_ok(
            Some(&token),
            r#"mutation { createRepository(input: {ownerLogin: "acme", name: "site"}) { repository { id } } }"#,
            serde_json::json!({}),
        )
        .await["createRepository"]["repository"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    for v in ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0"] {
        let r = app
            .put_generic(Some(&token), &format!("acme/bundle/{v}/b.tgz"), v)
            .await;
        assert_eq!(r.status(), 201);
    }
    let package = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "acme", packageType: GENERIC, name: "bundle") { id } }"#,
            serde_json::json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(
        Some(&token),
        r#"mutation($p: ID!, $r: ID!) { linkPackageRepository(input: {packageId: $p, repositoryId: $r}) { package { id } } }"#,
        serde_json::json!({"p": package, "r": repo}),
    )
    .await;

    let seen = run_client(
        &app,
        "octokit-graphql.mjs",
        &[
            ("BASE_URL", &format!("{}/api", app.url)),
            ("TOKEN", &token),
            ("OWNER", "acme"),
            ("REPO", "site"),
            ("PACKAGE", "bundle"),
            ("KEEP", "2"),
        ],
    );
    assert_eq!(seen["before"], 5);
    // `last: 3` of the newest-first list: the three oldest, deleted with a String id.
    let mut deleted: Vec<String> = serde_json::from_value(seen["deleted"].clone()).expect("list");
    deleted.sort();
    assert_eq!(deleted, ["1.0.0", "1.1.0", "1.2.0"]);
    assert_eq!(seen["remaining"], serde_json::json!(["2.0.0", "2.1.0"]));
    assert_eq!(seen["downloads"], 0);
    assert_eq!(
        seen["tooMany"],
        "Requesting 101 records on the `packages` connection exceeds the `first` limit of 100 records."
    );
}
