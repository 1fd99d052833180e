//! `schema.graphql` is the exported schema: a change to the API shows up in review.
use crate::support::bin;

#[test]
fn schema_file_matches_the_code() {
    let out = std::process::Command::new(bin())
        .arg("export-schema")
        .output()
        .expect("run export-schema");
    assert!(out.status.success());
    let exported = String::from_utf8(out.stdout).expect("utf-8");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let committed = std::fs::read_to_string(&path).expect("schema.graphql exists");
    assert!(
        exported == committed,
        "schema.graphql is stale: run `cargo run -- export-schema > schema.graphql`"
    );
    for needle in [
        "type Package ",
        "type PackageVersion ",
        "totalCount",
        "enum PackageType",
        "grantPackageAccess(input: GrantPackageAccessInput!)",
    ] {
        assert!(exported.contains(needle), "schema lacks {needle}");
    }
}

/// Migration 5 (`package.name_key`) on a database that has packages: rolled back to
/// migration 4 and migrated again, as an upgrade would, the package is still found by
/// its name, its key is backfilled, and the live-name index still refuses a duplicate.
#[tokio::test]
async fn packages_stored_before_name_keys_are_found_after_the_migration() {
    use migration::MigratorTrait;
    use sea_orm::{ConnectionTrait, Statement};

    let mut app = crate::support::TestApp::spawn().await;
    let token = app.user_with_token("alice");
    let put = app
        .put_generic(Some(&token), "alice/Tool/1.0.0/tool.txt", "v1")
        .await;
    assert_eq!(put.status(), 201);
    {
        let db = app.db().await;
        // Every migration from 5 on is undone (later ones, e.g. web sessions, too).
        let from_five = (migration::Migrator::migrations().len() - 4) as u32;
        migration::Migrator::down(&db, Some(from_five))
            .await
            .expect("back to migration 4");
        let no_column = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT name_key FROM package",
            ))
            .await;
        assert!(no_column.is_err(), "migration 4 has no name_key");
    }
    app.restart().await;
    let got = app
        .get(Some(&token), "/generic/alice/Tool/1.0.0/tool.txt")
        .await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.expect("body"), "v1");
    let db = app.db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT name, name_key FROM package",
        ))
        .await
        .expect("query")
        .expect("one package");
    let name: String = row.try_get("", "name").expect("name");
    let key: String = row.try_get("", "name_key").expect("name_key");
    assert_eq!((name.as_str(), key.as_str()), ("Tool", "Tool"));
    let duplicate = db
        .execute_raw(Statement::from_string(
            db.get_database_backend(),
            "INSERT INTO package (owner_id, format, name, name_key, visibility, inherit_access, created_at, updated_at) \
             SELECT owner_id, format, name, name_key, visibility, inherit_access, created_at, updated_at FROM package",
        ))
        .await;
    assert!(duplicate.is_err(), "ux_package_live covers name_key");
    // A second file under the same version still lands on the same package.
    let put = app
        .put_generic(Some(&token), "alice/Tool/1.0.0/other.txt", "v2")
        .await;
    assert_eq!(put.status(), 201);
}
