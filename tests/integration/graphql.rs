//! The GraphQL API: the newcomer's story, connections, loaders, errors, settings.
use serde_json::{Value, json};

use crate::support::TestApp;

const PACKAGE_ID: &str = r#"query($owner: String!, $name: String!) {
    package(owner: $owner, packageType: GENERIC, name: $name) { id visibility latestVersion { id version } } }"#;

async fn package(app: &TestApp, token: Option<&str>, owner: &str, name: &str) -> Value {
    app.gql_ok(token, PACKAGE_ID, json!({"owner": owner, "name": name}))
        .await["package"]
        .clone()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body:#}"))
}

/// README's walkthrough: upload, see downloads, make public, anonymous download, delete,
/// restore.
#[tokio::test]
async fn newcomer_story() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("alice");
    assert_eq!(
        app.put_generic(Some(&token), "alice/hello/1.0.0/hello.txt", "hi")
            .await
            .status(),
        201
    );
    assert_eq!(
        app.get(Some(&token), "/generic/alice/hello/1.0.0/hello.txt")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(Some(&token), "/generic/alice/hello/1.0.0/hello.txt")
            .await
            .status(),
        200
    );

    let data = app
        .gql_ok(
            Some(&token),
            r#"{ viewer { login packages(first: 10) { totalCount nodes { name packageType visibility viewerPermission
                 statistics { downloadsTotalCount downloadsDaily { day count } }
                 latestVersion { version files { nodes { name url } } } } } } }"#,
            json!({}),
        )
        .await;
    let node = &data["viewer"]["packages"]["nodes"][0];
    assert_eq!(data["viewer"]["login"], "alice");
    assert_eq!(data["viewer"]["packages"]["totalCount"], 1);
    assert_eq!(node["name"], "hello");
    assert_eq!(node["packageType"], "GENERIC");
    assert_eq!(node["visibility"], "PRIVATE");
    assert_eq!(node["viewerPermission"], "ADMIN");
    assert_eq!(node["statistics"]["downloadsTotalCount"], 2);
    assert_eq!(node["statistics"]["downloadsDaily"][0]["count"], 2);
    assert_eq!(
        node["latestVersion"]["files"]["nodes"][0]["url"],
        format!("{}/generic/alice/hello/1.0.0/hello.txt", app.url)
    );

    // Anonymous callers can't see it; then it goes public and they can.
    assert_eq!(package(&app, None, "alice", "hello").await, Value::Null);
    // (the file door asks them to sign in, as for a missing package)
    assert_eq!(
        app.get(None, "/generic/alice/hello/1.0.0/hello.txt")
            .await
            .status(),
        401
    );
    let id = package(&app, Some(&token), "alice", "hello").await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let set = app
        .gql_ok(
            Some(&token),
            r#"mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PUBLIC, clientMutationId: "m1"}) {
                 clientMutationId package { visibility } } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(set["setPackageVisibility"]["clientMutationId"], "m1");
    assert_eq!(
        set["setPackageVisibility"]["package"]["visibility"],
        "PUBLIC"
    );
    let anon = app.get(None, "/generic/alice/hello/1.0.0/hello.txt").await;
    assert_eq!(anon.status(), 200);
    assert_eq!(anon.text().await.expect("body"), "hi");
    assert_eq!(
        package(&app, None, "alice", "hello").await["visibility"],
        "PUBLIC"
    );

    // Public can't go private again.
    let back = app
        .graphql(Some(&token), r#"mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PRIVATE}) { package { id } } }"#, json!({"id": id}))
        .await;
    assert_eq!(code(&back), "BAD_USER_INPUT");

    // Delete, gone everywhere; listed as deleted for the admin; restore brings it back.
    app.gql_ok(Some(&token), r#"mutation($id: ID!) { deletePackage(input: {packageId: $id}) { package { deletedAt } } }"#, json!({"id": id})).await;
    // Gone: anonymous callers get the challenge, as for any package that isn't public.
    assert_eq!(
        app.get(None, "/generic/alice/hello/1.0.0/hello.txt")
            .await
            .status(),
        401
    );
    assert_eq!(
        package(&app, Some(&token), "alice", "hello").await,
        Value::Null
    );
    let deleted = app
        .gql_ok(
            Some(&token),
            r#"{ packages(state: DELETED, first: 5) { totalCount nodes { name deletedAt } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(deleted["packages"]["nodes"][0]["name"], "hello");
    assert!(deleted["packages"]["nodes"][0]["deletedAt"].is_string());
    let anon_deleted = app
        .gql_ok(
            None,
            r#"{ packages(state: DELETED, first: 5) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(anon_deleted["packages"]["totalCount"], 0);
    app.gql_ok(Some(&token), r#"mutation($id: ID!) { restorePackage(input: {packageId: $id}) { package { deletedAt } } }"#, json!({"id": id})).await;
    assert_eq!(
        app.get(None, "/generic/alice/hello/1.0.0/hello.txt")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn version_deletion_rules() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("bob");
    for v in ["1.0.0", "2.0.0"] {
        assert_eq!(
            app.put_generic(Some(&token), &format!("bob/tool/{v}/f"), v)
                .await
                .status(),
            201
        );
    }
    let versions = app
        .gql_ok(Some(&token), r#"{ package(owner: "bob", packageType: GENERIC, name: "tool") { id versions(first: 10) { totalCount nodes { id version } } } }"#, json!({}))
        .await;
    let nodes = versions["package"]["versions"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes[0]["version"], "2.0.0", "newest first");
    let (v2, v1) = (
        nodes[0]["id"].as_str().expect("id"),
        nodes[1]["id"].as_str().expect("id"),
    );
    const DELETE: &str = r#"mutation($id: ID!) { deletePackageVersion(input: {packageVersionId: $id}) { packageVersion { version deletedAt } } }"#;
    app.gql_ok(Some(&token), DELETE, json!({"id": v2})).await;
    // The last version can't go through the API.
    let last = app.graphql(Some(&token), DELETE, json!({"id": v1})).await;
    assert_eq!(code(&last), "BAD_USER_INPUT");
    assert!(
        last["errors"][0]["message"]
            .as_str()
            .expect("msg")
            .contains("delete the package instead")
    );
    // Republish 2.0.0: the deleted one can no longer be restored.
    assert_eq!(
        app.put_generic(Some(&token), "bob/tool/2.0.0/f", "again")
            .await
            .status(),
        201
    );
    let restore = app
        .graphql(Some(&token), r#"mutation($id: ID!) { restorePackageVersion(input: {packageVersionId: $id}) { packageVersion { version } } }"#, json!({"id": v2}))
        .await;
    assert_eq!(code(&restore), "CONFLICT");
    let deleted = app
        .gql_ok(Some(&token), r#"{ package(owner: "bob", packageType: GENERIC, name: "tool") { versions(state: DELETED) { totalCount } } }"#, json!({}))
        .await;
    assert_eq!(deleted["package"]["versions"]["totalCount"], 1);
}

#[tokio::test]
async fn popular_public_packages_cannot_be_deleted() {
    let app = TestApp::spawn_with(&[("PACKYARD_DELETE_DOWNLOAD_THRESHOLD", "2")]).await;
    let token = app.user_with_token("carol");
    app.put_generic(Some(&token), "carol/pop/1/f", "x").await;
    let id = package(&app, Some(&token), "carol", "pop").await["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&token), r#"mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PUBLIC}) { package { id } } }"#, json!({"id": id})).await;
    for _ in 0..3 {
        assert_eq!(app.get(None, "/generic/carol/pop/1/f").await.status(), 200);
    }
    let refused = app
        .graphql(
            Some(&token),
            r#"mutation($id: ID!) { deletePackage(input: {packageId: $id}) { package { id } } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .expect("msg")
            .contains("more than 2 downloads")
    );
}

#[tokio::test]
async fn connections_page_both_ways() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("dan");
    for i in 0..5 {
        app.put_generic(Some(&token), &format!("dan/p{i}/1/f"), "x")
            .await;
    }
    const Q: &str = r#"query($first: Int, $after: String, $last: Int, $before: String) {
        viewer { packages(orderBy: {field: NAME}, first: $first, after: $after, last: $last, before: $before) {
            totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor } nodes { name } } } }"#;
    let page1 =
        app.gql_ok(Some(&token), Q, json!({"first": 2})).await["viewer"]["packages"].clone();
    assert_eq!(page1["totalCount"], 5);
    assert_eq!(page1["nodes"], json!([{"name": "p0"}, {"name": "p1"}]));
    assert_eq!(page1["pageInfo"]["hasNextPage"], true);
    assert_eq!(page1["pageInfo"]["hasPreviousPage"], false);
    let page2 = app
        .gql_ok(
            Some(&token),
            Q,
            json!({"first": 2, "after": page1["pageInfo"]["endCursor"]}),
        )
        .await["viewer"]["packages"]
        .clone();
    assert_eq!(page2["nodes"], json!([{"name": "p2"}, {"name": "p3"}]));
    let tail = app.gql_ok(Some(&token), Q, json!({"last": 2})).await["viewer"]["packages"].clone();
    assert_eq!(tail["nodes"], json!([{"name": "p3"}, {"name": "p4"}]));
    assert_eq!(tail["pageInfo"]["hasNextPage"], false);
    assert_eq!(tail["pageInfo"]["hasPreviousPage"], true);
    let too_many = app.graphql(Some(&token), Q, json!({"first": 101})).await;
    assert!(too_many["errors"].is_array(), "{too_many:#}");
    // A forged cursor can't lift the page cap: `before` far past the end pages back from
    // there by the default page, never more than 100 nodes.
    let forged = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("1000000")
    };
    let page =
        app.gql_ok(Some(&token), Q, json!({"before": forged})).await["viewer"]["packages"].clone();
    // (Unclamped, this asked for a million rows and returned all 5.)
    assert_eq!(page["nodes"], json!([]));
    // GitHub's node limit: 100 packages × 100 versions (10,100 nodes) runs; a third
    // level of 100 (1,010,100 nodes) is refused before anything runs.
    let nested = app
        .gql_ok(
            Some(&token),
            "{ viewer { packages(first: 100) { nodes { versions(first: 100) { nodes { files { nodes { name } } } } } } } }",
            json!({}),
        )
        .await;
    assert!(nested["viewer"]["packages"]["nodes"].is_array());
}

/// Listing a page of packages with their latest version, tags, files and statistics runs a
/// constant number of statements whatever the page size.
#[tokio::test]
async fn lists_run_a_constant_number_of_queries() {
    // A window long enough that a machine starved by the tests beside this one still
    // gathers a page's keys in one batch (at the default 1 ms, full runs split batches).
    let app = TestApp::spawn_with(&[("PACKYARD_GRAPHQL_BATCH_WINDOW_MS", "25")]).await;
    let token = app.user_with_token("erin");
    const Q: &str = r#"query($n: Int!) { viewer { packages(first: $n) { totalCount nodes { name viewerPermission repository { name } owner { ... on User { login } }
        tags { name } statistics { downloadsTotalCount }
        latestVersion { version tags { name } statistics { downloadsTotalCount } files { nodes { name sha256 size } } } } } } }"#;
    async fn count(app: &TestApp, token: &str, n: usize) -> u64 {
        let before = app.sql_statements().await;
        let data = app.gql_ok(Some(token), Q, json!({"n": n})).await;
        let after = app.sql_statements().await;
        assert_eq!(
            data["viewer"]["packages"]["nodes"]
                .as_array()
                .expect("nodes")
                .len(),
            n
        );
        after - before
    }
    // The fewest of three runs: a loader's batch window can close early on a starved
    // machine and split one batch in two (more statements, never fewer), while a query per
    // package would show in every run.
    async fn fewest(app: &TestApp, token: &str, n: usize) -> u64 {
        let mut fewest = u64::MAX;
        for _ in 0..3 {
            fewest = fewest.min(count(app, token, n).await);
        }
        fewest
    }
    // Every package linked to a private repository: its visibility is decided per page.
    let repo = app.gql_ok(Some(&token), r#"mutation { createRepository(input: {ownerLogin: "erin", name: "src"}) { repository { id } } }"#, json!({})).await["createRepository"]["repository"]["id"].as_str().expect("id").to_string();
    let publish = |range: std::ops::Range<usize>| {
        let (app, token, repo) = (&app, &token, &repo);
        async move {
            for i in range {
                app.put_generic(Some(token), &format!("erin/pkg{i}/1/f"), "x")
                    .await;
                let id = app.gql_ok(Some(token), r#"query($n: String!) { package(owner: "erin", packageType: GENERIC, name: $n) { id } }"#, json!({"n": format!("pkg{i}")})).await["package"]["id"].as_str().expect("id").to_string();
                app.gql_ok(Some(token), r#"mutation($p: ID!, $r: ID!) { linkPackageRepository(input: {packageId: $p, repositoryId: $r}) { package { id } } }"#, json!({"p": id, "r": repo})).await;
            }
        }
    };
    publish(0..3).await;
    let small = fewest(&app, &token, 3).await;
    publish(3..30).await;
    let large = fewest(&app, &token, 30).await;
    assert_eq!(
        small, large,
        "statements grew with the page: {small} for 3, {large} for 30"
    );
    assert!(large <= 28, "{large} statements for one page");
}

#[tokio::test]
async fn errors_carry_codes() {
    let app = TestApp::spawn().await;
    let viewer = app.graphql(None, "{ viewer { login } }", json!({})).await;
    assert_eq!(code(&viewer), "UNAUTHENTICATED");
    let bad = app
        .graphql(
            None,
            r#"{ package(owner: "Bad Owner", packageType: GENERIC, name: "x") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    let bad_id = app
        .graphql(None, r#"{ node(id: "nope") { id } }"#, json!({}))
        .await;
    assert_eq!(code(&bad_id), "BAD_USER_INPUT");
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth("pky_not_a_real_token")
        .json(&json!({"query": "{ viewer { login } }"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(code(&body), "UNAUTHENTICATED");
    let graphiql = app.get(None, "/graphql").await;
    assert_eq!(graphiql.status(), 200);
    assert!(graphiql.text().await.expect("html").contains("graphiql"));
    let alias = app
        .http
        .post(format!("{}/api/graphql", app.url))
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("post");
    assert_eq!(
        alias.json::<Value>().await.expect("json")["data"]["__typename"],
        "QueryRoot"
    );
}

/// Organizations, teams, repositories, inheritance and grants, end to end.
#[tokio::test]
async fn organizations_teams_repositories_and_grants() {
    let app = TestApp::spawn().await;
    let owner = app.user_with_token("olga");
    let member = app.user_with_token("mike");
    let outsider = app.user_with_token("otto");
    let org = app
        .gql_ok(Some(&owner), r#"mutation { createOrganization(input: {login: "acme"}) { organization { login members { user { login } role } } } }"#, json!({}))
        .await;
    assert_eq!(
        org["createOrganization"]["organization"]["members"],
        json!([{"user": {"login": "olga"}, "role": "OWNER"}])
    );
    app.gql_ok(Some(&owner), r#"mutation { addOrganizationMember(input: {organizationLogin: "acme", login: "mike"}) { member { role } } }"#, json!({})).await;
    app.gql_ok(Some(&owner), r#"mutation { createTeam(input: {organizationLogin: "acme", slug: "devs"}) { team { slug } } }"#, json!({})).await;
    app.gql_ok(Some(&owner), r#"mutation { addTeamMember(input: {organizationLogin: "acme", teamSlug: "devs", login: "mike"}) { team { members { login } } } }"#, json!({})).await;
    let not_member = app.graphql(Some(&owner), r#"mutation { addTeamMember(input: {organizationLogin: "acme", teamSlug: "devs", login: "otto"}) { team { slug } } }"#, json!({})).await;
    assert_eq!(code(&not_member), "BAD_USER_INPUT");
    let repo = app
        .gql_ok(Some(&owner), r#"mutation { createRepository(input: {ownerLogin: "acme", name: "web"}) { repository { id nameWithOwner } } }"#, json!({}))
        .await;
    let repo_id = repo["createRepository"]["repository"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        repo["createRepository"]["repository"]["nameWithOwner"],
        "acme/web"
    );
    // A member can't administer the org.
    let denied = app.graphql(Some(&member), r#"mutation { createTeam(input: {organizationLogin: "acme", slug: "x"}) { team { slug } } }"#, json!({})).await;
    assert_eq!(code(&denied), "FORBIDDEN");

    // The owner publishes a private org package; the member (no grant) can't see it.
    assert_eq!(
        app.put_generic(Some(&owner), "acme/lib/1/f", "x")
            .await
            .status(),
        201
    );
    assert_eq!(
        app.get(Some(&member), "/generic/acme/lib/1/f")
            .await
            .status(),
        404
    );
    let pkg_id = package(&app, Some(&owner), "acme", "lib").await["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Linking to the repository + a team collaborator with write gives the member write.
    app.gql_ok(Some(&owner), r#"mutation($p: ID!, $r: ID!) { linkPackageRepository(input: {packageId: $p, repositoryId: $r}) { package { repository { name } } } }"#, json!({"p": pkg_id, "r": repo_id})).await;
    app.gql_ok(Some(&owner), r#"mutation($r: ID!) { setRepositoryCollaborator(input: {repositoryId: $r, teamSlug: "devs", role: MAINTAIN}) { repository { collaborators { role team { slug } } } } }"#, json!({"r": repo_id})).await;
    assert_eq!(
        app.get(Some(&member), "/generic/acme/lib/1/f")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.put_generic(Some(&member), "acme/lib/2/f", "y")
            .await
            .status(),
        201
    );
    assert_eq!(
        app.delete(Some(&member), "/generic/acme/lib/2")
            .await
            .status(),
        403,
        "write is not admin"
    );

    // Turning inheritance off falls back to the package's own grants.
    app.gql_ok(Some(&owner), r#"mutation($p: ID!) { setPackageInheritAccess(input: {packageId: $p, inheritAccess: false}) { package { inheritAccess } } }"#, json!({"p": pkg_id})).await;
    assert_eq!(
        app.get(Some(&member), "/generic/acme/lib/1/f")
            .await
            .status(),
        404
    );
    let granted = app
        .gql_ok(Some(&owner), r#"mutation($p: ID!) { grantPackageAccess(input: {packageId: $p, login: "mike", role: READ}) { grant { role user { login } } package { grants { role } } } }"#, json!({"p": pkg_id}))
        .await;
    assert_eq!(
        granted["grantPackageAccess"]["grant"]["user"]["login"],
        "mike"
    );
    assert_eq!(
        app.get(Some(&member), "/generic/acme/lib/1/f")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.put_generic(Some(&member), "acme/lib/3/f", "z")
            .await
            .status(),
        403
    );
    // Grants to non-members of the org are refused; non-admins see no grants.
    let outside = app.graphql(Some(&owner), r#"mutation($p: ID!) { grantPackageAccess(input: {packageId: $p, login: "otto", role: READ}) { grant { role } } }"#, json!({"p": pkg_id})).await;
    assert_eq!(code(&outside), "BAD_USER_INPUT");
    let grants_seen = app.gql_ok(Some(&member), r#"{ package(owner: "acme", packageType: GENERIC, name: "lib") { grants { role } viewerPermission } }"#, json!({})).await;
    assert_eq!(grants_seen["package"]["grants"], json!([]));
    assert_eq!(grants_seen["package"]["viewerPermission"], "READ");
    app.gql_ok(Some(&owner), r#"mutation($p: ID!) { revokePackageAccess(input: {packageId: $p, login: "mike"}) { package { id } } }"#, json!({"p": pkg_id})).await;
    assert_eq!(
        app.get(Some(&member), "/generic/acme/lib/1/f")
            .await
            .status(),
        404
    );

    // Internal: every member reads, outsiders don't.
    app.gql_ok(Some(&owner), r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: INTERNAL}) { package { visibility } } }"#, json!({"p": pkg_id})).await;
    assert_eq!(
        app.get(Some(&member), "/generic/acme/lib/1/f")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(Some(&outsider), "/generic/acme/lib/1/f")
            .await
            .status(),
        404
    );

    // Organization setting: only owners may create packages.
    app.gql_ok(Some(&owner), r#"mutation { updateOrganizationPackageSettings(input: {organizationLogin: "acme", membersCanCreatePackages: false}) { organization { membersCanCreatePackages } } }"#, json!({})).await;
    assert_eq!(
        app.put_generic(Some(&member), "acme/newpkg/1/f", "x")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.put_generic(Some(&owner), "acme/newpkg/1/f", "x")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn repository_tokens_and_linking_by_url() {
    let app = TestApp::spawn().await;
    let owner = app.user_with_token("rita");
    let repo = app.gql_ok(Some(&owner), r#"mutation { createRepository(input: {ownerLogin: "rita", name: "svc"}) { repository { id } } }"#, json!({})).await;
    let repo_id = repo["createRepository"]["repository"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let created = app
        .gql_ok(Some(&owner), r#"mutation($r: ID!) { createAccessToken(input: {name: "ci", scopes: ["read:packages", "write:packages"], repositoryId: $r}) { token accessToken { prefix scopes } } }"#, json!({"r": repo_id}))
        .await;
    let ci = created["createAccessToken"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    assert!(ci.starts_with("pky_"));
    assert!(
        ci.starts_with(
            created["createAccessToken"]["accessToken"]["prefix"]
                .as_str()
                .expect("prefix")
        )
    );
    // The CI token creates a package in its owner's namespace, linked to its repository.
    assert_eq!(
        app.put_generic(Some(&ci), "rita/built/1/f", "x")
            .await
            .status(),
        201
    );
    let linked = app.gql_ok(Some(&owner), r#"{ package(owner: "rita", packageType: GENERIC, name: "built") { repository { name } grants { role } } }"#, json!({})).await;
    assert_eq!(linked["package"]["repository"]["name"], "svc");
    // The repository that published it is its admin (so its workflow can manage it),
    // whatever the inheritance setting.
    assert_eq!(linked["package"]["grants"], json!([{"role": "ADMIN"}]));
    let seen = app.gql_ok(Some(&ci), r#"{ package(owner: "rita", packageType: GENERIC, name: "built") { viewerPermission } }"#, json!({})).await;
    assert_eq!(seen["package"]["viewerPermission"], "ADMIN");
    // It can't touch the owner's other private packages.
    app.put_generic(Some(&owner), "rita/other/1/f", "x").await;
    assert_eq!(
        app.get(Some(&ci), "/generic/rita/other/1/f").await.status(),
        404
    );
}

#[tokio::test]
async fn tokens_can_be_listed_and_revoked() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("tess");
    let made = app
        .gql_ok(Some(&token), r#"mutation { createAccessToken(input: {name: "laptop", scopes: ["read:packages"], expiresInDays: 7, packagePatterns: ["web-*"]}) { token accessToken { id expiresAt packagePatterns } } }"#, json!({}))
        .await;
    let secret = made["createAccessToken"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let id = made["createAccessToken"]["accessToken"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(made["createAccessToken"]["accessToken"]["expiresAt"].is_string());
    let listed = app
        .gql_ok(
            Some(&token),
            "{ viewer { accessTokens { name scopes } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["viewer"]["accessTokens"]
            .as_array()
            .expect("tokens")
            .len(),
        2
    );
    assert_eq!(
        app.gql_ok(Some(&secret), "{ viewer { login } }", json!({}))
            .await["viewer"]["login"],
        "tess"
    );
    // A read-only token can't mint a write token.
    let widen = app.graphql(Some(&secret), r#"mutation { createAccessToken(input: {name: "x", scopes: ["write:packages"]}) { token } }"#, json!({})).await;
    assert_eq!(code(&widen), "FORBIDDEN");
    app.gql_ok(Some(&token), r#"mutation($id: ID!) { revokeAccessToken(input: {accessTokenId: $id}) { accessToken { revokedAt } } }"#, json!({"id": id})).await;
    let after = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&secret)
        .json(&json!({"query": "{ viewer { login } }"}))
        .send()
        .await
        .expect("post");
    assert_eq!(after.status(), 401);
}

/// What a review of the API found, closed: an owner-limited token administering other
/// organizations, private repositories and membership readable by anyone, the last owner
/// demoting themselves, and deleted-package listings counting what they don't show.
#[tokio::test]
async fn review_fixes_for_accounts_and_listings() {
    let app = TestApp::spawn().await;
    let alice = app.user_with_token("alice");
    app.create_org("acme", "alice");
    app.create_org("sandbox", "alice");
    let eve = app.user_with_token("eve");

    // A token limited to "sandbox" administers sandbox only.
    let limited = app
        .gql_ok(Some(&alice), r#"mutation { createAccessToken(input: {name: "s", scopes: ["admin:org", "user"], ownerLogin: "sandbox"}) { token } }"#, json!({}))
        .await["createAccessToken"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let add = r#"mutation($o: String!) { addOrganizationMember(input: {organizationLogin: $o, login: "eve"}) { member { role } } }"#;
    assert_eq!(
        code(&app.graphql(Some(&limited), add, json!({"o": "acme"})).await),
        "FORBIDDEN"
    );
    app.gql_ok(Some(&limited), add, json!({"o": "sandbox"}))
        .await;

    // The last owner can't demote themselves.
    let demote = app.graphql(Some(&alice), r#"mutation { addOrganizationMember(input: {organizationLogin: "acme", login: "alice", role: MEMBER}) { member { role } } }"#, json!({})).await;
    assert_eq!(code(&demote), "BAD_USER_INPUT");

    // Private repositories and who belongs to acme are for acme's people.
    app.gql_ok(Some(&alice), r#"mutation { createRepository(input: {ownerLogin: "acme", name: "hidden"}) { repository { id } } }"#, json!({})).await;
    app.gql_ok(Some(&alice), r#"mutation { createRepository(input: {ownerLogin: "acme", name: "shown", visibility: PUBLIC}) { repository { id } } }"#, json!({})).await;
    let seen = |token: Option<String>| {
        let app = &app;
        async move {
            app.graphql(
                token.as_deref(),
                r#"{ organization(login: "acme") { repositories { name } } repository(owner: "acme", name: "hidden") { name } }"#,
                json!({}),
            )
            .await
        }
    };
    for outsider in [None, Some(eve.clone())] {
        let data = seen(outsider).await;
        assert_eq!(
            data["data"]["organization"]["repositories"],
            json!([{"name": "shown"}])
        );
        assert!(data["data"]["repository"].is_null());
    }
    let data = seen(Some(alice.clone())).await;
    assert_eq!(
        data["data"]["organization"]["repositories"]
            .as_array()
            .expect("repos")
            .len(),
        2
    );
    let members = app
        .graphql(
            None,
            r#"{ organization(login: "acme") { members { user { login } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&members), "FORBIDDEN");
    let collaborators = app
        .graphql(
            Some(&eve),
            r#"{ repository(owner: "acme", name: "shown") { collaborators { role } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&collaborators), "FORBIDDEN");

    // Deleted packages: counted and paged as shown (to who may restore them).
    for i in 0..3 {
        app.put_generic(Some(&alice), &format!("alice/gone{i}/1/f"), "x")
            .await;
        let id = app.gql_ok(Some(&alice), r#"query($n: String!) { package(owner: "alice", packageType: GENERIC, name: $n) { id } }"#, json!({"n": format!("gone{i}")})).await["package"]["id"].as_str().expect("id").to_string();
        app.gql_ok(Some(&alice), r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#, json!({"p": id})).await;
        app.gql_ok(
            Some(&alice),
            r#"mutation($p: ID!) { deletePackage(input: {packageId: $p}) { package { id } } }"#,
            json!({"p": id}),
        )
        .await;
    }
    const DELETED: &str =
        r#"{ packages(state: DELETED, first: 2) { totalCount nodes { name viewerPermission } } }"#;
    let theirs = app.gql_ok(Some(&eve), DELETED, json!({})).await;
    assert_eq!(theirs["packages"]["totalCount"], 0);
    let mine = app.gql_ok(Some(&alice), DELETED, json!({})).await;
    assert_eq!(mine["packages"]["totalCount"], 3);
    assert_eq!(mine["packages"]["nodes"][0]["viewerPermission"], "ADMIN");

    // REST paging can't overflow.
    let resp = app
        .get(
            Some(&alice),
            "/api/v3/user/packages?package_type=generic&page=184467440737095517&per_page=100",
        )
        .await;
    assert_eq!(resp.status(), 400);
}

/// Yank and unyank: needs write; a yanked generic version still downloads by exact version
/// (generic's `yanked_downloadable`), and unyank takes it back.
#[tokio::test]
async fn versions_can_be_yanked_and_unyanked() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("bob");
    let reader = app.user_with_token("mike");
    assert_eq!(
        app.put_generic(Some(&token), "bob/tool/1.0.0/f", "one")
            .await
            .status(),
        201
    );
    let found = app
        .gql_ok(Some(&token), r#"{ package(owner: "bob", packageType: GENERIC, name: "tool") { id versions(first: 10) { nodes { id yanked } } } }"#, json!({}))
        .await;
    let pkg_id = found["package"]["id"].as_str().expect("package id");
    let version = &found["package"]["versions"]["nodes"][0];
    assert_eq!(version["yanked"], false);
    let id = version["id"].as_str().expect("version id");
    app.gql_ok(Some(&token), r#"mutation($p: ID!) { grantPackageAccess(input: {packageId: $p, login: "mike", role: READ}) { grant { role } } }"#, json!({"p": pkg_id}))
        .await;

    const YANK: &str = r#"mutation($id: ID!) { yankPackageVersion(input: {packageVersionId: $id}) { packageVersion { version yanked } } }"#;
    const UNYANK: &str = r#"mutation($id: ID!) { unyankPackageVersion(input: {packageVersionId: $id}) { packageVersion { version yanked } } }"#;
    let refused = app.graphql(Some(&reader), YANK, json!({"id": id})).await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let anonymous = app.graphql(None, YANK, json!({"id": id})).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");

    let yanked = app.gql_ok(Some(&token), YANK, json!({"id": id})).await;
    assert_eq!(
        yanked["yankPackageVersion"]["packageVersion"],
        json!({"version": "1.0.0", "yanked": true})
    );
    let again = app.gql_ok(Some(&token), YANK, json!({"id": id})).await;
    assert_eq!(
        again["yankPackageVersion"]["packageVersion"]["yanked"],
        true
    );
    let file = app.get(Some(&token), "/generic/bob/tool/1.0.0/f").await;
    assert_eq!(
        file.status(),
        200,
        "a yanked generic version still downloads"
    );
    assert_eq!(file.text().await.expect("body"), "one");
    let refused = app.graphql(Some(&reader), UNYANK, json!({"id": id})).await;
    assert_eq!(code(&refused), "FORBIDDEN");

    let unyanked = app.gql_ok(Some(&token), UNYANK, json!({"id": id})).await;
    assert_eq!(
        unyanked["unyankPackageVersion"]["packageVersion"],
        json!({"version": "1.0.0", "yanked": false})
    );
}

/// GraphQL over HTTP: `application/json` unless the request's `Accept` asks for
/// `application/graphql-response+json` (octokit parses only the former).
#[tokio::test]
async fn github_graphql_answers_application_json_unless_asked_for_the_newer_type() {
    let app = TestApp::spawn().await;
    let post = |accept: Option<&'static str>| {
        let mut req = app
            .http
            .post(format!("{}/graphql", app.url))
            .json(&json!({"query": "{ __typename }"}));
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        req.send()
    };
    for accept in [
        None,
        Some("application/json"),
        Some("*/*"),
        Some("application/vnd.github+json"),
    ] {
        let r = post(accept).await.expect("post");
        assert_eq!(
            r.headers()["content-type"],
            "application/json",
            "{accept:?}"
        );
    }
    let r = post(Some(
        "application/graphql-response+json, application/json;q=0.9",
    ))
    .await
    .expect("post");
    assert_eq!(
        r.headers()["content-type"],
        "application/graphql-response+json"
    );
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["data"]["__typename"], "QueryRoot");
}

/// GitHub's limits: `first`/`last` at most 100 per connection and at most 500,000 nodes,
/// counted as the product of page sizes down each path, summed; refused with GitHub's
/// messages before anything runs.
#[tokio::test]
async fn github_graphql_admits_what_github_admits_and_refuses_beyond_the_node_limit() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("gale");
    app.put_generic(Some(&token), "gale/tool/1.0.0/t.bin", "x")
        .await;
    let wide = app
        .gql_ok(
            Some(&token),
            "query($n: Int!) { viewer { packages(first: $n) { nodes { name versions(first: 100) { totalCount nodes { version } } } } } }",
            json!({"n": 100}),
        )
        .await;
    assert_eq!(
        wide["viewer"]["packages"]["nodes"][0]["versions"]["totalCount"],
        1
    );

    // 100 + 100×100 + 100×100×100 = 1,010,100 nodes.
    let deep = app
        .graphql(
            Some(&token),
            "query($n: Int!) { viewer { packages(first: 100) { nodes { versions(first: 100) { nodes { package { versions(last: $n) { nodes { version } } } } } } } } }",
            json!({"n": 100}),
        )
        .await;
    assert_eq!(code(&deep), "MAX_NODE_LIMIT_EXCEEDED", "{deep:#}");
    assert_eq!(
        deep["errors"][0]["message"],
        "By the time this query traverses to the versions connection, it is requesting up to 1,010,100 possible nodes which exceeds the maximum limit of 500,000."
    );
    assert!(deep["data"].is_null(), "{deep:#}");
    // 50 × 100 × 100 = 500,000 + 5,050: still over; 40 × 100 × 100 + 4,040 is under.
    let under = app
        .graphql(
            Some(&token),
            "{ viewer { packages(first: 40) { nodes { versions(first: 100) { nodes { package { versions(first: 100) { nodes { version } } } } } } } } }",
            json!({}),
        )
        .await;
    assert!(under.get("errors").is_none(), "{under:#}");

    let too_many = app
        .graphql(
            Some(&token),
            "{ viewer { packages(first: 101) { nodes { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&too_many), "EXCESSIVE_PAGINATION", "{too_many:#}");
    assert_eq!(
        too_many["errors"][0]["message"],
        "Requesting 101 records on the `packages` connection exceeds the `first` limit of 100 records."
    );
}

/// GitHub accepts a `String` variable in an `ID` position (actions/delete-package-versions
/// declares `$packageVersionId: String!`), and so do we; a value of the wrong kind is
/// still refused.
#[tokio::test]
async fn github_graphql_accepts_string_variables_in_id_positions() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("ida");
    for v in ["1", "2"] {
        app.put_generic(Some(&token), &format!("ida/kit/{v}/k.bin"), v)
            .await;
    }
    let latest = package(&app, Some(&token), "ida", "kit").await["latestVersion"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let deleted = app
        .gql_ok(
            Some(&token),
            "mutation deletePackageVersion($packageVersionId: String!) { deletePackageVersion(input: {packageVersionId: $packageVersionId}) { success } }",
            json!({"packageVersionId": latest}),
        )
        .await;
    assert_eq!(deleted["deletePackageVersion"]["success"], true);
    let wrong = app
        .graphql(
            Some(&token),
            "query($n: String!) { viewer { packages(first: $n) { totalCount } } }",
            json!({"n": "10"}),
        )
        .await;
    assert!(wrong.get("errors").is_some(), "{wrong:#}");
}
