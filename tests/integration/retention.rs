//! Retention policies end to end: keep-N, age and pattern rules, a dry run that lists what
//! a run then deletes, tagged and downloaded versions kept (and not counted), restore after
//! a policy's deletion, GC reclaiming the bytes after the restore period, and the scheduled
//! job claimed once per interval across two replicas (PostgreSQL).
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::{
    cluster::{Cluster, within},
    support::TestApp,
    usage::bytes,
};

const POLICY_FIELDS: &str = "id owner packageName packageType namePattern keepNewest \
    olderThanDays versionPattern onlyPrerelease minDownloadsProtect enabled versionsDeleted";

const SET: &str = "mutation($p: RetentionPolicyInput!) { setRetentionPolicy(policy: $p) { \
    id owner packageName packageType namePattern keepNewest olderThanDays versionPattern \
    onlyPrerelease minDownloadsProtect enabled versionsDeleted } }";

const DRY_RUN: &str = "query($id: ID, $p: RetentionPolicyInput) { \
    retentionDryRun(policyId: $id, policy: $p) { packageName version versionId policyId } }";

const APPLY: &str = "mutation($owner: String) { applyRetentionPolicies(owner: $owner) { \
    policiesApplied deleted { packageName version versionId policyId } } }";

async fn publish(app: &TestApp, token: &str, path: &str, seed: u8) {
    let r = app.put_generic(Some(token), path, bytes(1000, seed)).await;
    assert_eq!(r.status(), 201, "{path}");
}

/// Live version names of a generic package, sorted.
async fn live_versions(app: &TestApp, token: &str, owner: &str, name: &str) -> Vec<String> {
    let data = app
        .gql_ok(
            Some(token),
            "query($o: String!, $n: String!) { package(owner: $o, packageType: GENERIC, name: $n) { \
               versions(first: 100) { nodes { version } } } }",
            json!({"o": owner, "n": name}),
        )
        .await;
    let mut v: Vec<String> = data["package"]["versions"]["nodes"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|n| n["version"].as_str().expect("version").to_string())
        .collect();
    v.sort();
    v
}

fn versions_of(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| {
            format!(
                "{}@{}",
                d["packageName"].as_str().expect("name"),
                d["version"].as_str().expect("version")
            )
        })
        .collect();
    v.sort();
    v
}

fn placeholder(db: &DatabaseConnection, n: usize) -> String {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// Moves a version's creation `days` into the past (the database is the only clock).
async fn backdate(app: &TestApp, name: &str, version: &str, days: i64) {
    let db = app.db().await;
    let at = chrono::Utc::now() - chrono::Duration::days(days);
    let sql = format!(
        "UPDATE package_version SET created_at = {} WHERE version = {} AND package_id IN \
         (SELECT id FROM package WHERE name = {})",
        placeholder(&db, 1),
        placeholder(&db, 2),
        placeholder(&db, 3)
    );
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [at.into(), version.into(), name.into()],
        ))
        .await
        .expect("backdate");
    assert_eq!(done.rows_affected(), 1, "{name}@{version}");
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n")
}

/// Audit entries of versions deleted by a retention policy.
async fn policy_deletions(db: &DatabaseConnection) -> i64 {
    count(
        db,
        "SELECT COUNT(*) AS n FROM audit_event WHERE action = 'package_version.delete' \
         AND CAST(data AS TEXT) LIKE '%retention_policy%'",
    )
    .await
}

/// Keep the 2 newest: the dry run lists the 3 older, the run deletes exactly those (with an
/// audit entry naming the policy and a `deleted` event each); a deleted one is restorable.
/// Outsiders see no policies and can't dry-run, set or delete them.
#[tokio::test]
async fn retention_keep_newest_dry_run_lists_what_the_run_deletes_and_restores() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("keeper");
    app.create_admin("root");
    let root = app.token(
        "root",
        "read:packages,write:packages,delete:packages,admin:org,user",
    );
    for (i, v) in ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0"]
        .iter()
        .enumerate()
    {
        publish(&app, &token, &format!("keeper/tool/{v}/tool.bin"), i as u8).await;
    }
    let policy = app
        .gql_ok(
            Some(&token),
            SET,
            json!({"p": {"owner": "keeper", "packageType": "GENERIC", "packageName": "tool", "keepNewest": 2}}),
        )
        .await["setRetentionPolicy"]
        .clone();
    assert_eq!(policy["packageName"], "tool");
    assert_eq!(policy["keepNewest"], 2);
    assert_eq!(policy["enabled"], true);
    let id = policy["id"].clone();

    let dry = app.gql_ok(Some(&token), DRY_RUN, json!({"id": id})).await["retentionDryRun"].clone();
    assert_eq!(
        versions_of(&dry),
        ["tool@1.0.0", "tool@1.1.0", "tool@1.2.0"]
    );
    // Nothing is deleted by looking.
    assert_eq!(live_versions(&app, &token, "keeper", "tool").await.len(), 5);

    // Outsiders: no policies, no dry run, no changes; the owner's own are listed.
    let stranger = app.user_with_token("stranger");
    let listed = app
        .gql_ok(
            Some(&stranger),
            "{ user(login: \"keeper\") { retentionPolicies { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["user"]["retentionPolicies"], Value::Null);
    let own = app
        .gql_ok(
            Some(&token),
            &format!("{{ user(login: \"keeper\") {{ retentionPolicies {{ {POLICY_FIELDS} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(own["user"]["retentionPolicies"][0]["id"], id);
    for (query, vars) in [
        (DRY_RUN, json!({"id": id})),
        (
            "mutation($id: ID!) { deleteRetentionPolicy(id: $id) }",
            json!({"id": id}),
        ),
        (SET, json!({"p": {"owner": "keeper", "keepNewest": 0}})),
    ] {
        let body = app.graphql(Some(&stranger), query, vars).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{body}"
        );
    }
    // Only site admins run them at once.
    let body = app
        .graphql(Some(&token), APPLY, json!({"owner": "keeper"}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    let run = app
        .gql_ok(Some(&root), APPLY, json!({"owner": "keeper"}))
        .await["applyRetentionPolicies"]
        .clone();
    assert_eq!(run["policiesApplied"], 1);
    assert_eq!(
        run["deleted"], dry,
        "the run deletes what the dry run listed"
    );
    assert_eq!(
        live_versions(&app, &token, "keeper", "tool").await,
        ["2.0.0", "2.1.0"]
    );
    let db = app.db().await;
    assert_eq!(policy_deletions(&db).await, 3);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM package_event WHERE kind = 'deleted'"
        )
        .await,
        3
    );
    // A second run finds nothing more.
    let again = app
        .gql_ok(Some(&root), APPLY, json!({"owner": "keeper"}))
        .await;
    assert_eq!(again["applyRetentionPolicies"]["deleted"], json!([]));
    let counted = app.gql_ok(Some(&token), DRY_RUN, json!({"id": id})).await;
    assert_eq!(counted["retentionDryRun"], json!([]));

    // A policy's deletion is restorable, like anyone's.
    let restored = app
        .gql_ok(
            Some(&token),
            "mutation($id: ID!) { restorePackageVersion(input: {packageVersionId: $id}) { packageVersion { version } } }",
            json!({"id": dry[0]["versionId"]}),
        )
        .await;
    assert_eq!(
        restored["restorePackageVersion"]["packageVersion"]["version"],
        "1.0.0"
    );
    assert_eq!(
        live_versions(&app, &token, "keeper", "tool").await,
        ["1.0.0", "2.0.0", "2.1.0"]
    );
    let download = app
        .get(Some(&token), "/generic/keeper/tool/1.0.0/tool.bin")
        .await;
    assert_eq!(download.status(), 200);

    // Deleting the policy leaves what it deleted deleted.
    let gone = app
        .gql_ok(
            Some(&token),
            "mutation($id: ID!) { deleteRetentionPolicy(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(gone["deleteRetentionPolicy"], id);
    let listed = app
        .gql_ok(
            Some(&token),
            "{ user(login: \"keeper\") { retentionPolicies { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["user"]["retentionPolicies"], json!([]));
}

/// An owner-wide policy over `lib-*` packages deleting `*-SNAPSHOT` versions older than 7
/// days: only the old snapshots of matching packages go (the admin command's run).
#[tokio::test]
async fn retention_age_and_pattern_policy_deletes_only_old_matching_versions() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("mvnish");
    for (i, path) in [
        "mvnish/lib-a/1.0-SNAPSHOT/a.jar",
        "mvnish/lib-a/1.1-SNAPSHOT/a.jar",
        "mvnish/lib-a/1.0/a.jar",
        "mvnish/app/1.0-SNAPSHOT/a.jar",
    ]
    .iter()
    .enumerate()
    {
        publish(&app, &token, path, 10 + i as u8).await;
    }
    backdate(&app, "lib-a", "1.0-SNAPSHOT", 10).await;
    backdate(&app, "lib-a", "1.0", 10).await;
    backdate(&app, "lib-a", "1.1-SNAPSHOT", 2).await;
    backdate(&app, "app", "1.0-SNAPSHOT", 10).await;
    let spec = json!({"owner": "mvnish", "packageType": "GENERIC", "namePattern": "lib-*",
                      "versionPattern": "*-SNAPSHOT", "olderThanDays": 7});
    let inline =
        app.gql_ok(Some(&token), DRY_RUN, json!({"p": spec})).await["retentionDryRun"].clone();
    assert_eq!(versions_of(&inline), ["lib-a@1.0-SNAPSHOT"]);
    assert_eq!(inline[0]["policyId"], Value::Null);
    let policy =
        app.gql_ok(Some(&token), SET, json!({"p": spec})).await["setRetentionPolicy"].clone();
    assert_eq!(policy["namePattern"], "lib-*");
    assert_eq!(policy["packageName"], Value::Null);

    let out = app.admin(&["apply-retention", "mvnish"], None);
    assert!(out.contains("versions_deleted 1\n"), "{out}");
    assert!(
        out.contains("deleted mvnish/generic/lib-a 1.0-SNAPSHOT policy="),
        "{out}"
    );
    assert_eq!(
        live_versions(&app, &token, "mvnish", "lib-a").await,
        ["1.0", "1.1-SNAPSHOT"]
    );
    assert_eq!(
        live_versions(&app, &token, "mvnish", "app").await,
        ["1.0-SNAPSHOT"]
    );
    let listed = app
        .gql_ok(
            Some(&token),
            "{ user(login: \"mvnish\") { retentionPolicies { versionsDeleted } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["user"]["retentionPolicies"][0]["versionsDeleted"], 1);
    // A rule that would delete everything at once must say so.
    let body = app
        .graphql(Some(&token), SET, json!({"p": {"owner": "mvnish"}}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

/// npm: tagged versions (`latest`, a `stable` dist-tag) and a version downloaded more than
/// the threshold are never deleted and don't count among the kept; a prerelease-only rule
/// touches prereleases only.
#[tokio::test]
async fn retention_keeps_tagged_and_downloaded_versions_without_counting_them() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("tagger");
    let name = "@tagger/lib";
    for v in ["1.0.0", "1.1.0", "2.0.0-beta.1", "2.0.0-beta.2", "2.0.0"] {
        crate::npm_documents::publish(&app, &token, name, v).await;
    }
    let tag = app
        .http
        .put(format!(
            "{}/npm/-/package/@tagger%2flib/dist-tags/stable",
            app.url
        ))
        .bearer_auth(&token)
        .json(&"1.0.0")
        .send()
        .await
        .expect("dist-tag");
    assert!(tag.status().is_success(), "{}", tag.status());
    let doc = crate::npm_documents::packument(&app, &token, name).await;
    let tarball = doc["versions"]["1.1.0"]["dist"]["tarball"]
        .as_str()
        .expect("tarball")
        .to_string();
    for _ in 0..3 {
        let r = app
            .http
            .get(&tarball)
            .bearer_auth(&token)
            .send()
            .await
            .expect("tarball");
        assert_eq!(r.status(), 200);
        r.bytes().await.expect("body");
    }
    let package = json!({"owner": "tagger", "packageType": "NPM", "packageName": "lib"});
    let mut prerelease = package.clone();
    prerelease["onlyPrerelease"] = json!(true);
    prerelease["keepNewest"] = json!(1);
    let dry = app
        .gql_ok(Some(&token), DRY_RUN, json!({"p": prerelease}))
        .await["retentionDryRun"]
        .clone();
    assert_eq!(versions_of(&dry), ["lib@2.0.0-beta.1"]);

    let mut protect = package.clone();
    protect["keepNewest"] = json!(0);
    protect["minDownloadsProtect"] = json!(2);
    let policy =
        app.gql_ok(Some(&token), SET, json!({"p": protect})).await["setRetentionPolicy"].clone();
    let dry = app
        .gql_ok(Some(&token), DRY_RUN, json!({"id": policy["id"]}))
        .await["retentionDryRun"]
        .clone();
    assert_eq!(versions_of(&dry), ["lib@2.0.0-beta.1", "lib@2.0.0-beta.2"]);
    app.admin(&["apply-retention"], None);
    let doc = crate::npm_documents::packument(&app, &token, name).await;
    assert_eq!(
        crate::npm_documents::versions(&doc),
        ["1.0.0", "1.1.0", "2.0.0"]
    );
    assert_eq!(doc["dist-tags"]["latest"], "2.0.0");
    assert_eq!(doc["dist-tags"]["stable"], "1.0.0");
    // The package lists the policy that applies to it (for those who may delete).
    let applies = app
        .gql_ok(
            Some(&token),
            "{ package(owner: \"tagger\", packageType: NPM, name: \"lib\") { retentionPolicies { id versionsDeleted } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        applies["package"]["retentionPolicies"],
        json!([{"id": policy["id"], "versionsDeleted": 2}])
    );
}

/// With a restore period of 0 days, GC purges a policy's deletions at once: the bytes
/// pending reclamation (shown before) become reclaimed bytes, on GraphQL and `/metrics`.
#[tokio::test]
async fn retention_gc_reclaims_the_bytes_after_the_restore_period() {
    let app = TestApp::spawn_with(&[("PACKYARD_RESTORE_DAYS", "0")]).await;
    let token = app.user_with_token("reclaim");
    for (i, v) in ["1.0.0", "1.1.0", "1.2.0"].iter().enumerate() {
        publish(
            &app,
            &token,
            &format!("reclaim/tool/{v}/tool.bin"),
            40 + i as u8,
        )
        .await;
    }
    // The newest shares the oldest's bytes: that blob stays needed.
    let r = app
        .put_generic(Some(&token), "reclaim/tool/1.3.0/tool.bin", bytes(1000, 40))
        .await;
    assert_eq!(r.status(), 201);
    app.gql_ok(
        Some(&token),
        SET,
        json!({"p": {"owner": "reclaim", "packageType": "GENERIC", "packageName": "tool", "keepNewest": 1}}),
    )
    .await;
    let out = app.admin(&["apply-retention"], None);
    assert!(out.contains("versions_deleted 3\n"), "{out}");
    let usage_query = "{ user(login: \"reclaim\") { usage { storageBytes reclaimedBytes pendingReclamationBytes } } }";
    let u = app.gql_ok(Some(&token), usage_query, json!({})).await["user"]["usage"].clone();
    assert_eq!(
        u,
        json!({"storageBytes": 1000, "reclaimedBytes": 0, "pendingReclamationBytes": 2000})
    );
    let out = app.cli(&["gc", "--grace-secs", "0"], None);
    assert!(out.contains("3 versions"), "{out}");
    assert!(out.contains("removed 2 blobs"), "{out}");
    let u = app.gql_ok(Some(&token), usage_query, json!({})).await["user"]["usage"].clone();
    assert_eq!(
        u,
        json!({"storageBytes": 1000, "reclaimedBytes": 2000, "pendingReclamationBytes": 0})
    );
    let metrics = app
        .get(None, "/metrics")
        .await
        .text()
        .await
        .expect("metrics");
    assert!(
        metrics.contains("packyard_retention_reclaimed_bytes{owner=\"reclaim\"} 2000\n"),
        "{metrics}"
    );
    assert_eq!(
        live_versions(&app, &token, "reclaim", "tool").await,
        ["1.3.0"]
    );
    let shared = app
        .get(Some(&token), "/generic/reclaim/tool/1.3.0/tool.bin")
        .await;
    assert_eq!(shared.status(), 200);
    assert_eq!(
        shared.bytes().await.expect("body").to_vec(),
        bytes(1000, 40)
    );
}

/// Two replicas with a 1 s interval: each interval's run is claimed by one of them, so the
/// policy's deletions happen once each (one audit entry, one event per version).
#[tokio::test]
async fn retention_job_is_claimed_once_per_interval_across_replicas() {
    let Some(c) = Cluster::start_with(
        "retention_job",
        2,
        &[("PACKYARD_RETENTION_INTERVAL_SECONDS", "1")],
    )
    .await
    else {
        return;
    };
    let token = c.user_with_token("cron");
    for (i, v) in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"].iter().enumerate() {
        let r = c
            .http
            .put(format!(
                "{}/generic/cron/tool/{v}/t.bin",
                c.replicas[i % 2].url
            ))
            .bearer_auth(&token)
            .body(bytes(500, 60 + i as u8))
            .send()
            .await
            .expect("PUT");
        assert_eq!(r.status(), 201, "{v}");
    }
    let set = c
        .http
        .post(format!("{}/graphql", c.replicas[0].url))
        .bearer_auth(&token)
        .json(&json!({"query": SET, "variables": {"p": {"owner": "cron", "packageType": "GENERIC", "packageName": "tool", "keepNewest": 1}}}))
        .send()
        .await
        .expect("graphql")
        .json::<Value>()
        .await
        .expect("json");
    assert!(set.get("errors").is_none(), "{set}");
    let db = c.db().await;
    within(Duration::from_secs(30), "the job's deletions", || async {
        policy_deletions(&db).await >= 3
    })
    .await;
    // Several more intervals pass: both replicas keep taking turns at the slots.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(policy_deletions(&db).await, 3, "{}", c.logs());
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM package_event WHERE kind = 'deleted'"
        )
        .await,
        3
    );
    let runs = count(
        &db,
        "SELECT COUNT(*) AS n FROM retention_run WHERE slot IS NOT NULL",
    )
    .await;
    let slots = count(
        &db,
        "SELECT COUNT(DISTINCT slot) AS n FROM retention_run WHERE slot IS NOT NULL",
    )
    .await;
    assert_eq!(runs, slots, "one run per slot");
    assert!(runs >= 3, "the job kept running: {runs} runs");
}

/// Containers: after `v1` moves to a new image (skopeo pushes), the old manifest is
/// untagged; a `sha256:*` policy keeping none deletes exactly it, and the tags still pull.
#[tokio::test]
async fn retention_deletes_untagged_container_manifests_only() {
    use crate::oci::{Layout, host, run, skopeo};
    let app = TestApp::spawn().await;
    let token = app.user_with_token("shipper");
    let work = tempfile::tempdir().expect("tempdir");
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let layout_dir = work.path().join("layout");
    let mut layout = Layout::new(&layout_dir);
    let old = layout.image("amd64", b"old", json!({}));
    let new = layout.image("amd64", b"new", json!({}));
    let other = layout.image("amd64", b"other", json!({}));
    layout.tag("old", old.clone());
    layout.tag("new", new.clone());
    layout.tag("other", other.clone());
    for (from, to) in [("old", "v1"), ("new", "v1"), ("other", "v2")] {
        run(skopeo(&home).args([
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &format!("shipper:{token}"),
            &format!("oci:{}:{from}", layout_dir.display()),
            &format!("docker://{}/shipper/img:{to}", host(&app)),
        ]));
    }
    let old_digest = old["digest"].as_str().expect("digest").to_string();
    let spec = json!({"owner": "shipper", "packageType": "CONTAINER", "packageName": "img",
                      "versionPattern": "sha256:*", "keepNewest": 0});
    let dry =
        app.gql_ok(Some(&token), DRY_RUN, json!({"p": spec})).await["retentionDryRun"].clone();
    assert_eq!(versions_of(&dry), [format!("img@{old_digest}")]);
    app.gql_ok(Some(&token), SET, json!({"p": spec})).await;
    let out = app.admin(&["apply-retention", "shipper"], None);
    assert!(out.contains("versions_deleted 1\n"), "{out}");
    let accept = "application/vnd.oci.image.manifest.v1+json";
    let bearer =
        crate::oci::bearer(&app, "shipper", &token, &["repository:shipper/img:pull"]).await;
    for (reference, status) in [("v1", 200), ("v2", 200), (old_digest.as_str(), 404)] {
        let r = app
            .http
            .get(format!("{}/v2/shipper/img/manifests/{reference}", app.url))
            .bearer_auth(&bearer)
            .header("Accept", accept)
            .send()
            .await
            .expect("manifest");
        assert_eq!(r.status(), status, "{reference}");
    }
}

/// A package's admin (by grant) manages that package's policies, and sees them on the
/// package, but neither sets owner-wide ones nor sees the owner's list; a reader sees none.
#[tokio::test]
async fn retention_package_admins_manage_their_packages_policies_only() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("landlord");
    let tenant = app.user_with_token("tenant");
    let reader = app.user_with_token("reader");
    for v in ["1.0.0", "1.1.0"] {
        publish(&app, &token, &format!("landlord/flat/{v}/f.bin"), 90).await;
    }
    let id = app
        .gql_ok(
            Some(&token),
            "{ package(owner: \"landlord\", packageType: GENERIC, name: \"flat\") { id } }",
            json!({}),
        )
        .await["package"]["id"]
        .clone();
    for (login, role) in [("tenant", "ADMIN"), ("reader", "READ")] {
        app.gql_ok(
            Some(&token),
            "mutation($id: ID!, $login: String!, $role: PackageRole!) { grantPackageAccess(input: {packageId: $id, login: $login, role: $role}) { grant { role } } }",
            json!({"id": id, "login": login, "role": role}),
        )
        .await;
    }
    let own = json!({"p": {"owner": "landlord", "packageType": "GENERIC", "packageName": "flat", "keepNewest": 1}});
    let policy = app.gql_ok(Some(&tenant), SET, own.clone()).await["setRetentionPolicy"].clone();
    assert_eq!(policy["owner"], "landlord");
    let wide = json!({"p": {"owner": "landlord", "keepNewest": 1}});
    let body = app.graphql(Some(&tenant), SET, wide).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{body}"
    );
    let body = app.graphql(Some(&reader), SET, own).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let on_package = "{ package(owner: \"landlord\", packageType: GENERIC, name: \"flat\") { retentionPolicies { id } } }";
    for (who, expected) in [
        (&tenant, json!([{"id": policy["id"]}])),
        (&token, json!([{"id": policy["id"]}])),
        (&reader, Value::Null),
    ] {
        let got = app.gql_ok(Some(who), on_package, json!({})).await;
        assert_eq!(got["package"]["retentionPolicies"], expected);
    }
    let owner_list = app
        .gql_ok(
            Some(&tenant),
            "{ user(login: \"landlord\") { retentionPolicies { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(owner_list["user"]["retentionPolicies"], Value::Null);
    let dry = app
        .gql_ok(Some(&tenant), DRY_RUN, json!({"id": policy["id"]}))
        .await;
    assert_eq!(versions_of(&dry["retentionDryRun"]), ["flat@1.0.0"]);
    let gone = app
        .gql_ok(
            Some(&tenant),
            "mutation($id: ID!) { deleteRetentionPolicy(id: $id) }",
            json!({"id": policy["id"]}),
        )
        .await;
    assert_eq!(gone["deleteRetentionPolicy"], policy["id"]);
}

fn sha256_of(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// A multi-platform image: its platform manifests are untagged, but the tagged index
/// names them, so a `sha256:*` policy keeping none leaves them (and the index) and
/// deletes only a stray untagged manifest. Pushed as raw registry API calls.
#[tokio::test]
async fn retention_keeps_the_platform_manifests_a_live_index_names() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("multi");
    let send = |method: reqwest::Method, path: String, media: Option<&str>, body: Vec<u8>| {
        let mut req = app
            .http
            .request(method, format!("{}{path}", app.url))
            .basic_auth("multi", Some(&token))
            .body(body);
        if let Some(m) = media {
            req = req.header("content-type", m.to_string());
        }
        req.send()
    };
    let manifest = |arch: &'static str| {
        let send = &send;
        async move {
            let config = format!(r#"{{"architecture":"{arch}","os":"linux"}}"#).into_bytes();
            let layer = format!("layer of {arch}").into_bytes();
            for blob in [&config, &layer] {
                let r = send(
                    reqwest::Method::POST,
                    format!("/v2/multi/app/blobs/uploads/?digest={}", sha256_of(blob)),
                    None,
                    blob.clone(),
                )
                .await
                .expect("blob");
                assert_eq!(r.status(), 201);
            }
            let media = "application/vnd.oci.image.manifest.v1+json";
            let body = json!({
                "schemaVersion": 2, "mediaType": media,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_of(&config), "size": config.len()},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256_of(&layer), "size": layer.len()}],
            })
            .to_string()
            .into_bytes();
            let digest = sha256_of(&body);
            let r = send(
                reqwest::Method::PUT,
                format!("/v2/multi/app/manifests/{digest}"),
                Some(media),
                body.clone(),
            )
            .await
            .expect("manifest");
            assert_eq!(r.status(), 201);
            (digest, body.len(), arch)
        }
    };
    let amd64 = manifest("amd64").await;
    let arm64 = manifest("arm64").await;
    let stray = manifest("s390x").await;
    let media = "application/vnd.oci.image.index.v1+json";
    let children: Vec<Value> = [&amd64, &arm64]
        .iter()
        .map(|(d, n, a)| {
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d,
                   "size": n, "platform": {"architecture": a, "os": "linux"}})
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": media, "manifests": children})
        .to_string()
        .into_bytes();
    let r = send(
        reqwest::Method::PUT,
        "/v2/multi/app/manifests/latest".to_string(),
        Some(media),
        index,
    )
    .await
    .expect("index");
    assert_eq!(r.status(), 201);
    let spec = json!({"owner": "multi", "packageType": "CONTAINER", "packageName": "app",
                      "versionPattern": "sha256:*", "keepNewest": 0});
    let dry =
        app.gql_ok(Some(&token), DRY_RUN, json!({"p": spec})).await["retentionDryRun"].clone();
    assert_eq!(versions_of(&dry), [format!("app@{}", stray.0)]);
}
