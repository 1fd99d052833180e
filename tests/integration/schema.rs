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
