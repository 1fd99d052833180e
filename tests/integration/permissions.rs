//! The permission table over HTTP: real tokens (including expired and revoked ones) against
//! real packages of each visibility, for read, write, settings and delete.
use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;

use crate::support::{TestApp, files_under};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Vis {
    Public,
    Internal,
    Private,
}

/// Expected HTTP status for read (GET), write (PUT a new version), admin (a settings
/// mutation) and delete (DELETE a version).
struct Row {
    who: &'static str,
    vis: Vis,
    want: [u16; 4],
}

#[tokio::test]
async fn actors_by_visibility_by_action() {
    let app = TestApp::spawn().await;
    let owner = app.user_with_token("owner");
    app.create_org("acme", "owner");
    let token_of = |login: &str| {
        app.create_user(login);
        app.token(login, "read:packages,write:packages,delete:packages")
    };
    let reader = token_of("reader");
    let writer = token_of("writer");
    let admin = token_of("admin");
    let member = token_of("member");
    let stranger = token_of("stranger");
    app.create_user("limited");
    let read_only = app.token("limited", "read:packages");
    let expired = app.token("limited", "read:packages,write:packages");
    let revoked = app.token("limited", "read:packages,write:packages");
    for login in ["reader", "writer", "admin", "member"] {
        app.gql_ok(Some(&owner), r#"mutation($l: String!) { addOrganizationMember(input: {organizationLogin: "acme", login: $l}) { member { role } } }"#, json!({"l": login})).await;
    }
    // The limited user gets read on everything through a grant, so scope limits show.
    app.gql_ok(Some(&owner), r#"mutation { addOrganizationMember(input: {organizationLogin: "acme", login: "limited"}) { member { role } } }"#, json!({})).await;
    let repo = app.gql_ok(Some(&owner), r#"mutation { createRepository(input: {ownerLogin: "acme", name: "ci"}) { repository { id } } }"#, json!({})).await;
    let repo_id = repo["createRepository"]["repository"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let ci = app
        .gql_ok(Some(&owner), r#"mutation($r: ID!) { createAccessToken(input: {name: "ci", scopes: ["read:packages", "write:packages"], repositoryId: $r}) { token } }"#, json!({"r": repo_id}))
        .await["createAccessToken"]["token"]
        .as_str()
        .expect("token")
        .to_string();

    // Backdate one token's expiry and revoke another, as time and an admin would.
    let db = app.db().await;
    let cutoff = Utc::now() - Duration::days(1);
    entity::access_token::Entity::update_many()
        .col_expr(entity::access_token::Column::ExpiresAt, Expr::value(cutoff))
        .filter(entity::access_token::Column::DisplayPrefix.eq(&expired[..10]))
        .exec(&db)
        .await
        .expect("expire");
    entity::access_token::Entity::update_many()
        .col_expr(entity::access_token::Column::RevokedAt, Expr::value(cutoff))
        .filter(entity::access_token::Column::DisplayPrefix.eq(&revoked[..10]))
        .exec(&db)
        .await
        .expect("revoke");

    for (name, vis) in [
        ("pub", Vis::Public),
        ("int", Vis::Internal),
        ("priv", Vis::Private),
    ] {
        assert_eq!(
            app.put_generic(Some(&owner), &format!("acme/{name}/1/f"), "x")
                .await
                .status(),
            201
        );
        let id = app.gql_ok(Some(&owner), r#"query($n: String!) { package(owner: "acme", packageType: GENERIC, name: $n) { id } }"#, json!({"n": name})).await["package"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let visibility = match vis {
            Vis::Public => "PUBLIC",
            Vis::Internal => "INTERNAL",
            Vis::Private => "PRIVATE",
        };
        app.gql_ok(Some(&owner), r#"mutation($p: ID!, $v: PackageVisibility!) { setPackageVisibility(input: {packageId: $p, visibility: $v}) { package { id } } }"#, json!({"p": id, "v": visibility})).await;
        for (login, role) in [
            ("reader", "READ"),
            ("writer", "WRITE"),
            ("admin", "ADMIN"),
            ("limited", "ADMIN"),
        ] {
            app.gql_ok(Some(&owner), r#"mutation($p: ID!, $l: String!, $r: PackageRole!) { grantPackageAccess(input: {packageId: $p, login: $l, role: $r}) { grant { role } } }"#, json!({"p": id, "l": login, "r": role})).await;
        }
        app.gql_ok(Some(&owner), r#"mutation($p: ID!, $r: ID!) { grantPackageAccess(input: {packageId: $p, repositoryId: $r, role: WRITE}) { grant { role } } }"#, json!({"p": id, "r": repo_id})).await;
    }

    use Vis::*;
    #[rustfmt::skip]
    let table = [
        //                                 read write admin delete
        Row { who: "anonymous", vis: Public,   want: [200, 401, 401, 401] },
        // Anonymous callers get the challenge for anything that isn't public (a missing
        // package too), so clients that send credentials only after one (Maven, NuGet,
        // bundler) log in.
        Row { who: "anonymous", vis: Internal, want: [401, 401, 401, 401] },
        Row { who: "anonymous", vis: Private,  want: [401, 401, 401, 401] },
        Row { who: "reader",    vis: Private,  want: [200, 403, 403, 403] },
        Row { who: "writer",    vis: Private,  want: [200, 201, 403, 403] },
        Row { who: "admin",     vis: Private,  want: [200, 201, 200, 204] },
        Row { who: "owner",     vis: Private,  want: [200, 201, 200, 204] },
        Row { who: "member",    vis: Internal, want: [200, 403, 403, 403] },
        // Writing to a package one may not read answers as writing a name one may not
        // create (403), so a publish doesn't tell whether a private package exists.
        Row { who: "member",    vis: Private,  want: [404, 403, 404, 404] },
        Row { who: "stranger",  vis: Public,   want: [200, 403, 403, 403] },
        Row { who: "stranger",  vis: Internal, want: [404, 403, 404, 404] },
        Row { who: "stranger",  vis: Private,  want: [404, 403, 404, 404] },
        Row { who: "read-only", vis: Private,  want: [200, 403, 403, 403] },
        Row { who: "expired",   vis: Public,   want: [401, 401, 401, 401] },
        Row { who: "revoked",   vis: Private,  want: [401, 401, 401, 401] },
        Row { who: "repo-ci",   vis: Private,  want: [200, 201, 403, 403] },
    ];
    let token = |who: &str| -> Option<String> {
        match who {
            "anonymous" => None,
            "reader" => Some(reader.clone()),
            "writer" => Some(writer.clone()),
            "admin" => Some(admin.clone()),
            "owner" => Some(owner.clone()),
            "member" => Some(member.clone()),
            "stranger" => Some(stranger.clone()),
            "read-only" => Some(read_only.clone()),
            "expired" => Some(expired.clone()),
            "revoked" => Some(revoked.clone()),
            "repo-ci" => Some(ci.clone()),
            other => panic!("{other}"),
        }
    };
    let mut failures = Vec::new();
    for (n, row) in table.iter().enumerate() {
        let name = match row.vis {
            Public => "pub",
            Internal => "int",
            Private => "priv",
        };
        let t = token(row.who);
        let t = t.as_deref();
        // A version of its own for this row, so deletes don't interfere.
        let victim = format!("d{n}");
        assert_eq!(
            app.put_generic(Some(&owner), &format!("acme/{name}/{victim}/f"), "x")
                .await
                .status(),
            201
        );

        let read = app
            .get(t, &format!("/generic/acme/{name}/1/f"))
            .await
            .status()
            .as_u16();
        let write = app
            .put_generic(t, &format!("acme/{name}/w{n}/f"), "x")
            .await
            .status()
            .as_u16();
        let id = app.gql_ok(Some(&owner), r#"query($n: String!) { package(owner: "acme", packageType: GENERIC, name: $n) { id } }"#, json!({"n": name})).await["package"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let mut req = app.http.post(format!("{}/graphql", app.url)).json(&json!({
            "query": r#"mutation($p: ID!) { setPackageInheritAccess(input: {packageId: $p, inheritAccess: true}) { package { id } } }"#,
            "variables": {"p": id},
        }));
        if let Some(t) = t {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("graphql");
        let admin_status = if resp.status() == 401 {
            401
        } else {
            let body: serde_json::Value = resp.json().await.expect("json");
            match body["errors"][0]["extensions"]["code"].as_str() {
                None => 200,
                Some("UNAUTHENTICATED") => 401,
                Some("FORBIDDEN") => 403,
                Some("NOT_FOUND") => 404,
                Some(other) => panic!("unexpected code {other}"),
            }
        };
        let delete = app
            .delete(t, &format!("/generic/acme/{name}/{victim}"))
            .await
            .status()
            .as_u16();
        let got = [read, write, admin_status, delete];
        if got != row.want {
            failures.push(format!(
                "{} on {:?}: want {:?}, got {:?}",
                row.who, row.vis, row.want, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "permission table mismatches:\n{}",
        failures.join("\n")
    );
}

/// Holes a review found, closed: a removed member keeps nothing, a restricted token can't
/// mint an unrestricted one, a read-only token can't manage tokens, and publishing doesn't
/// tell an outsider whether a private package exists (nor store the upload first).
#[tokio::test]
async fn removed_members_restricted_tokens_and_existence() {
    let app = TestApp::spawn().await;
    let owner = app.user_with_token("olga");
    app.create_org("acme", "olga");
    let bob = app.user_with_token("bob");
    let eve = app.user_with_token("eve");
    app.gql_ok(Some(&owner), r#"mutation { addOrganizationMember(input: {organizationLogin: "acme", login: "bob"}) { member { role } } }"#, json!({})).await;

    // Bob publishes a private package of the org (and so is granted admin on it).
    assert_eq!(
        app.put_generic(Some(&bob), "acme/secret/1/f", "x")
            .await
            .status(),
        201
    );
    assert_eq!(
        app.get(Some(&bob), "/generic/acme/secret/1/f")
            .await
            .status(),
        200
    );
    app.gql_ok(Some(&owner), r#"mutation { removeOrganizationMember(input: {organizationLogin: "acme", login: "bob"}) { organization { login } } }"#, json!({})).await;
    assert_eq!(
        app.get(Some(&bob), "/generic/acme/secret/1/f")
            .await
            .status(),
        404,
        "a removed member keeps no access through the grant publishing gave him"
    );

    // An outsider gets the same answer for a private package and for a free name, and
    // nothing it sent is stored.
    let blobs = || {
        files_under(&app.data_dir.path().join("blobs"))
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("sha256"))
            .count()
    };
    let before = blobs();
    let taken = app
        .put_generic(Some(&eve), "acme/secret/2/f", "eve's bytes")
        .await;
    let free = app
        .put_generic(Some(&eve), "acme/nothing-here/1/f", "eve's bytes")
        .await;
    assert_eq!(taken.status(), 403);
    assert_eq!(free.status(), 403);
    assert_eq!(blobs(), before);
    let anonymous = app.put_generic(None, "acme/secret/2/f", "x").await;
    assert_eq!(anonymous.status(), 401);

    // A restricted token's children inherit its limits, and can't shed them.
    let made = app
        .gql_ok(Some(&eve), r#"mutation { createAccessToken(input: {name: "ci", scopes: ["user", "write:packages"], ownerLogin: "eve", packagePatterns: ["web-*"], expiresInDays: 3}) { token } }"#, json!({}))
        .await;
    let limited = made["createAccessToken"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let child = app
        .gql_ok(Some(&limited), r#"mutation { createAccessToken(input: {name: "child", scopes: ["write:packages"], expiresInDays: 300}) { accessToken { ownerLogin packagePatterns expiresAt } } }"#, json!({}))
        .await;
    let child = &child["createAccessToken"]["accessToken"];
    assert_eq!(child["ownerLogin"], "eve");
    assert_eq!(child["packagePatterns"], json!(["web-*"]));
    let expires: chrono::DateTime<Utc> = child["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .parse()
        .expect("date");
    assert!(expires <= Utc::now() + Duration::days(3));
    for widen in [
        r#"mutation { createAccessToken(input: {name: "x", scopes: ["write:packages"], packagePatterns: ["*"]}) { token } }"#,
        r#"mutation { createAccessToken(input: {name: "x", scopes: ["write:packages"], ownerLogin: "acme"}) { token } }"#,
    ] {
        let refused = app.graphql(Some(&limited), widen, json!({})).await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{refused}"
        );
    }

    // A read-only token can neither list nor revoke its owner's tokens.
    let read_only = app.token("eve", "read:packages");
    let listed = app
        .graphql(
            Some(&read_only),
            "{ viewer { accessTokens { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["errors"][0]["extensions"]["code"], "FORBIDDEN");
}
