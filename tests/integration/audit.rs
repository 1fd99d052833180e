//! The audit log over GraphQL: every kind of change the issue lists leaves an entry naming
//! the actor, the client's address and the token used; an organization's log is its owners'
//! to read, the site's is the site admins'; filters and pagination; `X-Forwarded-For` only
//! counts behind a proxy the operator trusts.
use serde_json::{Value, json};

use crate::support::TestApp;

const ALL_SCOPES: &str = "read:packages,write:packages,delete:packages,admin:org,user";

const ORG_LOG: &str = "query($org: String!, $action: String, $actor: String, $first: Int, $after: String) { \
  organization(login: $org) { auditLog(action: $action, actor: $actor, first: $first, after: $after) { \
    totalCount pageInfo { hasNextPage endCursor } \
    nodes { id action actor targetType targetName data sourceIp tokenId createdAt } } } }";

/// The `AccessToken.id` of the viewer's token named `name`.
async fn token_id(app: &TestApp, token: &str, name: &str) -> String {
    let data = app
        .gql_ok(
            Some(token),
            "{ viewer { accessTokens { id name } } }",
            json!({}),
        )
        .await;
    data["viewer"]["accessTokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str())
        .expect("the token is listed")
        .to_string()
}

async fn org_log(app: &TestApp, token: &str, vars: Value) -> Value {
    app.gql_ok(Some(token), ORG_LOG, vars).await["organization"]["auditLog"].clone()
}

fn actions(log: &Value) -> Vec<String> {
    log["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["action"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn package_id(app: &TestApp, token: &str, owner: &str, name: &str) -> String {
    let data = app
        .gql_ok(
            Some(token),
            "query($o: String!, $n: String!) { package(owner: $o, packageType: GENERIC, name: $n) { id } }",
            json!({"o": owner, "n": name}),
        )
        .await;
    data["package"]["id"]
        .as_str()
        .expect("package id")
        .to_string()
}

#[tokio::test]
async fn every_kind_of_change_is_recorded_with_actor_source_ip_and_token() {
    let app = TestApp::spawn().await;
    let alice = app.user_with_token("alice");
    app.create_user("bob");
    app.create_org("acme", "alice");
    let alice_token = token_id(&app, &alice, "test").await;

    let changes = [
        (
            "mutation { updateOrganizationPackageSettings(input: {organizationLogin: \"acme\", membersCanCreatePackages: true}) { organization { login } } }",
            "organization.update_settings",
        ),
        (
            "mutation { addOrganizationMember(input: {organizationLogin: \"acme\", login: \"bob\"}) { clientMutationId } }",
            "organization.member.set",
        ),
        (
            "mutation { createTeam(input: {organizationLogin: \"acme\", slug: \"devs\"}) { team { slug } } }",
            "team.create",
        ),
        (
            "mutation { addTeamMember(input: {organizationLogin: \"acme\", teamSlug: \"devs\", login: \"bob\"}) { clientMutationId } }",
            "team.member.add",
        ),
        (
            "mutation { createRepository(input: {ownerLogin: \"acme\", name: \"app\"}) { repository { id } } }",
            "repository.create",
        ),
        (
            "mutation { createWebhook(input: {owner: \"acme\", url: \"http://127.0.0.1:9/hook\"}) { webhook { id } } }",
            "webhook.create",
        ),
    ];
    for (mutation, _) in changes {
        app.gql_ok(Some(&alice), mutation, json!({})).await;
    }
    let put = app
        .put_generic(Some(&alice), "acme/tool/1.0.0/tool.txt", b"hi".to_vec())
        .await;
    assert!(put.status().is_success(), "{}", put.status());
    let pkg = package_id(&app, &alice, "acme", "tool").await;
    for (mutation, action) in [
        (
            "mutation($id: ID!) { grantPackageAccess(input: {packageId: $id, login: \"bob\", role: READ}) { package { id } } }",
            "package.grant",
        ),
        (
            "mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: INTERNAL}) { package { id } } }",
            "package.visibility",
        ),
        (
            "mutation($id: ID!) { deletePackage(input: {packageId: $id}) { package { id } } }",
            "package.delete",
        ),
        (
            "mutation($id: ID!) { restorePackage(input: {packageId: $id}) { package { id } } }",
            "package.restore",
        ),
    ] {
        let data = app
            .graphql(Some(&alice), mutation, json!({"id": pkg}))
            .await;
        assert!(data.get("errors").is_none(), "{action}: {data:#}");
    }

    // A version deleted and restored (a second one keeps the package alive), a member removed.
    let put = app
        .put_generic(Some(&alice), "acme/tool/1.1.0/tool.txt", b"hi".to_vec())
        .await;
    assert!(put.status().is_success(), "{}", put.status());
    let versions = app
        .gql_ok(
            Some(&alice),
            "{ package(owner: \"acme\", packageType: GENERIC, name: \"tool\") { versions { nodes { id version } } } }",
            json!({}),
        )
        .await;
    let old = versions["package"]["versions"]["nodes"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["version"] == "1.0.0")
        .expect("1.0.0")["id"]
        .clone();
    for mutation in [
        "mutation($id: ID!) { deletePackageVersion(input: {packageVersionId: $id}) { clientMutationId } }",
        "mutation($id: ID!) { restorePackageVersion(input: {packageVersionId: $id}) { clientMutationId } }",
    ] {
        app.gql_ok(Some(&alice), mutation, json!({"id": old})).await;
    }
    app.gql_ok(
        Some(&alice),
        "mutation { removeOrganizationMember(input: {organizationLogin: \"acme\", login: \"bob\"}) { clientMutationId } }",
        json!({}),
    )
    .await;

    let log = org_log(&app, &alice, json!({"org": "acme", "first": 100})).await;
    let recorded = actions(&log);
    for action in changes.iter().map(|(_, a)| *a).chain([
        "package_version.publish",
        "package.grant",
        "package.visibility",
        "package.delete",
        "package.restore",
        "package_version.delete",
        "package_version.restore",
        "organization.member.remove",
    ]) {
        assert!(
            recorded.iter().any(|a| a == action),
            "{action} is in the organization's log: {recorded:?}"
        );
    }
    // (The CLI created the organization: no request, no token.)
    for entry in log["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|e| e["action"] != "organization.create")
    {
        assert_eq!(entry["actor"], "alice", "{entry}");
        assert_eq!(entry["sourceIp"], "127.0.0.1", "{entry}");
        assert_eq!(entry["tokenId"], alice_token.as_str(), "{entry}");
    }
    // Newest first.
    assert_eq!(
        recorded.first().map(String::as_str),
        Some("organization.member.remove")
    );
    let delete = log["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["action"] == "package.delete")
        .expect("delete entry");
    assert_eq!(delete["targetType"], "package");
    assert_eq!(delete["targetName"], "tool");
    let member = log["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["action"] == "organization.member.set")
        .expect("member entry");
    assert_eq!(member["data"]["user"], "bob");

    // Token creation and revocation are the user's, not the organization's: the site log
    // has them, with the token that did it.
    let created = app
        .gql_ok(
            Some(&alice),
            "mutation { createAccessToken(input: {name: \"ci\", scopes: [\"read:packages\"]}) { token accessToken { id } } }",
            json!({}),
        )
        .await;
    let new_id = created["createAccessToken"]["accessToken"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(
        Some(&alice),
        "mutation($id: ID!) { revokeAccessToken(input: {accessTokenId: $id}) { clientMutationId } }",
        json!({"id": new_id}),
    )
    .await;
    app.create_admin("root");
    let root = app.token("root", ALL_SCOPES);
    let site = app
        .gql_ok(
            Some(&root),
            "{ auditLog(first: 100) { totalCount nodes { action actor targetName sourceIp tokenId } } }",
            json!({}),
        )
        .await;
    let nodes = site["auditLog"]["nodes"].as_array().expect("nodes");
    for action in ["token.create", "token.revoke"] {
        let entry = nodes
            .iter()
            .find(|n| n["action"] == action)
            .unwrap_or_else(|| panic!("{action} in the site log: {nodes:?}"));
        assert_eq!(entry["actor"], "alice");
        assert_eq!(entry["targetName"], "ci");
        assert_eq!(entry["sourceIp"], "127.0.0.1");
        assert_eq!(entry["tokenId"], alice_token.as_str());
    }
    // npm logout revokes the token it presents: recorded as that token's doing.
    let created = app
        .gql_ok(
            Some(&alice),
            "mutation { createAccessToken(input: {name: \"laptop\", scopes: [\"read:packages\"]}) { token accessToken { id } } }",
            json!({}),
        )
        .await;
    let laptop = created["createAccessToken"]["token"]
        .as_str()
        .expect("token");
    let laptop_id = created["createAccessToken"]["accessToken"]["id"].clone();
    let r = app
        .delete(Some(laptop), &format!("/npm/-/user/token/{laptop}"))
        .await;
    assert_eq!(r.status(), 200);
    let newest = app
        .gql_ok(
            Some(&root),
            "{ auditLog(action: \"token.revoke\", first: 1) { nodes { actor targetName tokenId data } } }",
            json!({}),
        )
        .await;
    let entry = &newest["auditLog"]["nodes"][0];
    assert_eq!(entry["actor"], "alice");
    assert_eq!(entry["targetName"], "laptop");
    assert_eq!(entry["tokenId"], laptop_id);
    assert_eq!(entry["data"]["presented"], true);
    // A repository's CI token acts as the repository: no user, its token id, the
    // repository in `data`; the entry is the repository owner's.
    let repo = app
        .gql_ok(
            Some(&alice),
            "{ repository(owner: \"acme\", name: \"app\") { id } }",
            json!({}),
        )
        .await["repository"]["id"]
        .clone();
    let created = app
        .gql_ok(
            Some(&alice),
            "mutation($r: ID!) { createAccessToken(input: {name: \"ci-repo\", scopes: [\"read:packages\"], repositoryId: $r}) { token accessToken { id } } }",
            json!({"r": repo}),
        )
        .await;
    let ci = created["createAccessToken"]["token"]
        .as_str()
        .expect("token");
    let ci_id = created["createAccessToken"]["accessToken"]["id"].clone();
    let r = app
        .delete(Some(ci), &format!("/npm/-/user/token/{ci}"))
        .await;
    assert_eq!(r.status(), 200);
    let newest = org_log(
        &app,
        &alice,
        json!({"org": "acme", "action": "token.revoke", "first": 1}),
    )
    .await;
    let entry = &newest["nodes"][0];
    assert_eq!(entry["actor"], Value::Null, "{entry}");
    assert_eq!(entry["tokenId"], ci_id);
    assert_eq!(entry["targetName"], "ci-repo");
    assert!(entry["data"]["repository_token"].is_i64(), "{entry}");
    assert!(
        site["auditLog"]["totalCount"].as_u64().expect("count")
            > log["totalCount"].as_u64().expect("count"),
        "the site log holds the organization's entries and more"
    );
}

#[tokio::test]
async fn audit_log_filters_paginates_and_is_for_owners_and_site_admins_only() {
    let app = TestApp::spawn().await;
    let alice = app.user_with_token("alice");
    let bob = app.user_with_token("bob");
    app.create_org("acme", "alice");
    app.create_org("other", "bob");
    app.create_admin("root");
    let root = app.token("root", ALL_SCOPES);
    for slug in ["t1", "t2", "t3", "t4", "t5"] {
        app.gql_ok(
            Some(&alice),
            "mutation($s: String!) { createTeam(input: {organizationLogin: \"acme\", slug: $s}) { team { slug } } }",
            json!({"s": slug}),
        )
        .await;
    }
    // A site admin's change to acme, and bob's change to his own organization.
    app.gql_ok(
        Some(&root),
        "mutation { addOrganizationMember(input: {organizationLogin: \"acme\", login: \"bob\"}) { clientMutationId } }",
        json!({}),
    )
    .await;
    app.gql_ok(
        Some(&bob),
        "mutation { createTeam(input: {organizationLogin: \"other\", slug: \"x\"}) { team { slug } } }",
        json!({}),
    )
    .await;

    // Filters.
    let teams = org_log(
        &app,
        &alice,
        json!({"org": "acme", "action": "team.create", "first": 100}),
    )
    .await;
    assert_eq!(teams["totalCount"], 5, "{teams:#}");
    let names: Vec<&str> = teams["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["targetName"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["t5", "t4", "t3", "t2", "t1"],
        "newest first, only acme's"
    );
    let by_root = org_log(&app, &alice, json!({"org": "acme", "actor": "root"})).await;
    assert_eq!(actions(&by_root), ["organization.member.set"]);
    let by_nobody = org_log(&app, &alice, json!({"org": "acme", "actor": "nobody"})).await;
    assert_eq!(by_nobody["totalCount"], 0);
    let window = "query($since: DateTime, $until: DateTime) { organization(login: \"acme\") { \
        auditLog(since: $since, until: $until) { totalCount } } }";
    let before_all = app
        .gql_ok(
            Some(&alice),
            window,
            json!({"until": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(before_all["organization"]["auditLog"]["totalCount"], 0);
    let since_then = app
        .gql_ok(
            Some(&alice),
            window,
            json!({"since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(since_then["organization"]["auditLog"]["totalCount"], 7);

    // Pagination: two pages of two and the rest, no entry twice, the same order.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = org_log(
            &app,
            &alice,
            json!({"org": "acme", "action": "team.create", "first": 2, "after": after}),
        )
        .await;
        let nodes = page["nodes"].as_array().expect("nodes");
        assert!(nodes.len() <= 2);
        seen.extend(
            nodes
                .iter()
                .map(|n| n["targetName"].as_str().unwrap_or_default().to_string()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(String::from);
    }
    assert_eq!(seen, ["t5", "t4", "t3", "t2", "t1"]);

    // Bob is a member of acme, not an owner: no log for him, nor the site's.
    let refused = app
        .graphql(Some(&bob), ORG_LOG, json!({"org": "acme"}))
        .await;
    assert_eq!(
        refused["data"]["organization"]["auditLog"],
        Value::Null,
        "{refused:#}"
    );
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let refused = app
        .graphql(Some(&bob), "{ auditLog { totalCount } }", json!({}))
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let anonymous = app
        .graphql(None, "{ auditLog { totalCount } }", json!({}))
        .await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    // A token without admin:org can't read it either, though its user owns the org.
    let read_only = app.token("alice", "read:packages");
    let refused = app
        .graphql(Some(&read_only), ORG_LOG, json!({"org": "acme"}))
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // The site admin reads acme's log and the site's, bob's change included.
    let acme = org_log(&app, &root, json!({"org": "acme", "first": 100})).await;
    assert_eq!(acme["totalCount"], 7, "created, five teams, a member");
    let site = app
        .gql_ok(
            Some(&root),
            "{ auditLog(actor: \"bob\") { nodes { action targetName } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        site["auditLog"]["nodes"],
        json!([
            {"action": "team.create", "targetName": "x"},
            {"action": "organization.create", "targetName": "other"},
        ])
    );
}

/// Sends a mutation with an `X-Forwarded-For` header; returns the newest entry's address.
async fn forwarded_source(app: &TestApp, token: &str, slug: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .header("x-forwarded-for", "198.51.100.1, 203.0.113.7")
        .json(&json!({
            "query": "mutation($s: String!) { createTeam(input: {organizationLogin: \"acme\", slug: $s}) { team { slug } } }",
            "variables": {"s": slug},
        }))
        .send()
        .await
        .expect("graphql");
    let body: Value = r.json().await.expect("json");
    assert!(body.get("errors").is_none(), "{body:#}");
    let log = org_log(app, token, json!({"org": "acme", "first": 1})).await;
    log["nodes"][0]["sourceIp"].clone()
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let app = TestApp::spawn().await;
    let alice = app.user_with_token("alice");
    app.create_org("acme", "alice");
    assert_eq!(
        forwarded_source(&app, &alice, "a").await,
        "127.0.0.1",
        "the header of an untrusted peer is ignored"
    );

    let app = TestApp::spawn_with(&[("PACKYARD_TRUSTED_PROXIES", "127.0.0.1/32, ::1")]).await;
    let alice = app.user_with_token("alice");
    app.create_org("acme", "alice");
    assert_eq!(
        forwarded_source(&app, &alice, "b").await,
        "203.0.113.7",
        "behind a trusted proxy, the nearest untrusted hop"
    );
}
