//! Packuments: the full document, and the abbreviated one `npm install` asks for. Built
//! from a constant number of queries whatever the number of versions.
use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use crate::{
    auth::Actor,
    domain::{
        metadata::{NpmMetadata, VersionMetadata},
        npm::npm_revision,
        packages::PackageRef,
    },
    error::DomainError,
    formats::npm::{full_name, integrity_of},
    state::AppState,
};

/// Fields of a version manifest the abbreviated packument keeps.
const ABBREVIATED: &[&str] = &[
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bin",
    "directories",
    "engines",
    "os",
    "cpu",
    "deprecated",
    "_hasShrinkwrap",
    "hasInstallScript",
];

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub async fn build(
    state: &AppState,
    actor: &Actor,
    r: &PackageRef,
    abbreviated: bool,
) -> Result<Value, DomainError> {
    let domain = &state.domain;
    let pkg = domain.find_package(actor, r).await?;
    let versions = domain.all_versions(actor, pkg.id).await?;
    let ids: Vec<i64> = versions.iter().map(|v| v.id).collect();
    let mut files = domain.files_of_versions(&ids).await?;
    let tags = domain
        .tags_of_packages(&[pkg.id])
        .await?
        .remove(&pkg.id)
        .unwrap_or_default();
    let name = full_name(r);
    let base = state.config.base_url();

    let mut dist_tags = Map::new();
    for t in &tags {
        dist_tags.insert(t.name.clone(), Value::String(t.version.clone()));
    }
    let mut out_versions = Map::new();
    let mut times = Map::new();
    times.insert("created".into(), Value::String(time(pkg.created_at)));
    times.insert("modified".into(), Value::String(time(pkg.updated_at)));
    for v in &versions {
        let mut manifest = match &v.metadata {
            VersionMetadata::Npm(NpmMetadata {
                manifest: Value::Object(m),
            }) => m.clone(),
            _ => Map::new(),
        };
        let Some(file) = files.remove(&v.id).and_then(|f| f.into_iter().next()) else {
            continue;
        };
        manifest.insert("name".into(), Value::String(name.clone()));
        manifest.insert("version".into(), Value::String(v.version.clone()));
        // `fileCount` and `unpackedSize`, measured at publish.
        let mut dist = match manifest.remove("dist") {
            Some(Value::Object(measured)) => measured,
            _ => Map::new(),
        };
        dist.insert(
            "tarball".into(),
            Value::String(format!("{base}/npm/{name}/-/{}", file.name)),
        );
        if let Some(sha1) = &file.sha1 {
            dist.insert("shasum".into(), Value::String(sha1.clone()));
        }
        if let Some(integrity) = integrity_of(file.sha512.as_deref()) {
            dist.insert("integrity".into(), Value::String(integrity));
        }
        // npm decides which packages to build from this flag, not from `scripts` (which the
        // abbreviated document drops): a registry computes it.
        let installs = manifest
            .get("scripts")
            .and_then(Value::as_object)
            .is_some_and(|s| {
                ["preinstall", "install", "postinstall"]
                    .iter()
                    .any(|k| s.contains_key(*k))
            });
        if installs {
            manifest.insert("hasInstallScript".into(), Value::Bool(true));
        }
        if abbreviated {
            manifest.retain(|k, _| ABBREVIATED.contains(&k.as_str()));
        } else {
            manifest.insert("_id".into(), Value::String(format!("{name}@{}", v.version)));
        }
        manifest.insert("dist".into(), Value::Object(dist));
        out_versions.insert(v.version.clone(), Value::Object(manifest));
        times.insert(v.version.clone(), Value::String(time(v.created_at)));
    }
    if abbreviated {
        return Ok(json!({
            "name": name,
            "modified": time(pkg.updated_at),
            "dist-tags": dist_tags,
            "versions": out_versions,
        }));
    }
    let latest = tags
        .iter()
        .find(|t| t.name == "latest")
        .and_then(|t| versions.iter().find(|v| v.id == t.version_id))
        .or(versions.last());
    let mut doc = json!({
        "_id": name,
        "name": name,
        "_rev": npm_revision(pkg.updated_at, versions.len()),
        "dist-tags": dist_tags,
        "versions": out_versions,
        "time": times,
        "readme": latest.and_then(|v| v.readme.clone()).unwrap_or_default(),
    });
    if let Some(latest) = latest
        && let VersionMetadata::Npm(NpmMetadata { manifest }) = &latest.metadata
    {
        for key in [
            "description",
            "license",
            "homepage",
            "repository",
            "keywords",
            "author",
            "bugs",
        ] {
            if let Some(value) = manifest.get(key) {
                doc[key] = value.clone();
            }
        }
    }
    Ok(doc)
}
