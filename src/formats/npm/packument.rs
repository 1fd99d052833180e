//! Packuments: the full document, and the abbreviated one `npm install` asks for, rendered
//! from the package's index (read in a constant number of queries whatever the number of
//! versions, and cached).
use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use crate::{
    domain::{
        index::{IndexedVersion, PackageIndex},
        metadata::{NpmMetadata, VersionMetadata},
        npm::npm_revision,
    },
    formats::npm::publish::integrity_of,
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

/// The packument of `name` (the package as npm spells it, `@owner/name`), whose tarballs
/// are served under `base`: a pure function of the package's index.
pub fn render(index: &PackageIndex, name: &str, base: &str, abbreviated: bool) -> Value {
    let pkg = &index.package;
    let tags = &index.tags;
    let mut dist_tags = Map::new();
    for t in tags {
        dist_tags.insert(t.name.clone(), Value::String(t.version.clone()));
    }
    let mut out_versions = Map::new();
    let mut times = Map::new();
    times.insert("created".into(), Value::String(time(pkg.created_at)));
    times.insert("modified".into(), Value::String(time(pkg.updated_at)));
    for IndexedVersion { version: v, files } in &index.versions {
        let mut manifest = match &v.metadata {
            VersionMetadata::Npm(NpmMetadata {
                manifest: Value::Object(m),
            }) => m.clone(),
            _ => Map::new(),
        };
        let Some(file) = files.first() else {
            continue;
        };
        manifest.insert("name".into(), Value::String(name.to_string()));
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
        return json!({
            "name": name,
            "modified": time(pkg.updated_at),
            "dist-tags": dist_tags,
            "versions": out_versions,
        });
    }
    let latest = tags
        .iter()
        .find(|t| t.name == "latest")
        .and_then(|t| index.version(t.version_id))
        .or(index.versions.last())
        .map(|v| &v.version);
    let mut doc = json!({
        "_id": name,
        "name": name,
        "_rev": npm_revision(pkg.updated_at, index.versions.len()),
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
    doc
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::domain::{
        PackageType, Visibility,
        views::{FileInfo, PackageInfo, TagInfo, VersionInfo},
    };

    fn at(seconds: i64) -> chrono::DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .expect("time")
    }

    fn version(id: i64, name: &str, manifest: Value, readme: &str) -> IndexedVersion {
        IndexedVersion {
            version: VersionInfo {
                id,
                package_id: 1,
                version: name.into(),
                metadata: VersionMetadata::Npm(NpmMetadata { manifest }),
                summary: None,
                readme: Some(readme.into()),
                license: None,
                prerelease: false,
                yanked: false,
                publisher_id: None,
                created_at: at(id),
                updated_at: at(id),
                deleted_at: None,
            },
            files: vec![FileInfo {
                id: id * 10,
                version_id: id,
                name: format!("pkg-{name}.tgz"),
                size: 3,
                content_type: "application/octet-stream".into(),
                lead: true,
                sha256: "ab".repeat(32),
                md5: None,
                sha1: Some("cd".repeat(20)),
                sha512: Some("ef".repeat(64)),
                created_at: at(id),
                updated_at: at(id),
            }],
        }
    }

    fn index() -> PackageIndex {
        PackageIndex {
            package: PackageInfo {
                id: 1,
                owner_id: 2,
                owner_login: "alice".into(),
                package_type: PackageType::Npm,
                name: "pkg".into(),
                visibility: Visibility::Public,
                repository_id: None,
                inherit_access: true,
                created_at: at(0),
                updated_at: at(100),
                deleted_at: None,
                viewer_role: None,
            },
            versions: vec![
                version(
                    1,
                    "1.0.0",
                    json!({
                        "description": "first",
                        "scripts": {"postinstall": "node x.js", "test": "t"},
                        "dependencies": {"a": "^1"},
                        "dist": {"fileCount": 2, "unpackedSize": 10},
                        "keywords": ["k"],
                    }),
                    "readme one",
                ),
                version(
                    2,
                    "2.0.0",
                    json!({"description": "second", "scripts": {"test": "t"}, "license": "MIT"}),
                    "readme two",
                ),
            ],
            tags: vec![TagInfo {
                id: 5,
                package_id: 1,
                name: "latest".into(),
                version_id: 1,
                version: "1.0.0".into(),
                updated_at: at(50),
            }],
        }
    }

    #[test]
    fn full_packument_from_the_index() {
        let doc = render(&index(), "@alice/pkg", "http://r", false);
        assert_eq!(doc["_id"], "@alice/pkg");
        assert_eq!(doc["name"], "@alice/pkg");
        assert_eq!(doc["_rev"], npm_revision(at(100), 2));
        assert_eq!(doc["dist-tags"], json!({"latest": "1.0.0"}));
        // The top-level fields and readme come from the version `latest` names.
        assert_eq!(doc["description"], "first");
        assert_eq!(doc["keywords"], json!(["k"]));
        assert_eq!(doc["readme"], "readme one");
        assert!(doc.get("license").is_none());
        let v1 = &doc["versions"]["1.0.0"];
        assert_eq!(v1["_id"], "@alice/pkg@1.0.0");
        assert_eq!(v1["name"], "@alice/pkg");
        assert_eq!(v1["hasInstallScript"], true);
        assert_eq!(v1["scripts"]["test"], "t");
        assert_eq!(
            v1["dist"]["tarball"],
            "http://r/npm/@alice/pkg/-/pkg-1.0.0.tgz"
        );
        assert_eq!(v1["dist"]["shasum"], "cd".repeat(20));
        assert_eq!(v1["dist"]["fileCount"], 2);
        assert!(
            v1["dist"]["integrity"]
                .as_str()
                .is_some_and(|i| i.starts_with("sha512-"))
        );
        assert!(doc["versions"]["2.0.0"].get("hasInstallScript").is_none());
        assert_eq!(doc["time"]["created"], time(at(0)));
        assert_eq!(doc["time"]["modified"], time(at(100)));
        assert_eq!(doc["time"]["2.0.0"], time(at(2)));
    }

    #[test]
    fn abbreviated_packument_keeps_what_installs_need() {
        let doc = render(&index(), "@alice/pkg", "http://r", true);
        assert_eq!(doc["modified"], time(at(100)));
        assert!(doc.get("_rev").is_none() && doc.get("time").is_none());
        let v1 = doc["versions"]["1.0.0"].as_object().expect("version");
        let mut keys: Vec<&str> = v1.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "dependencies",
                "dist",
                "hasInstallScript",
                "name",
                "version"
            ]
        );
    }

    #[test]
    fn without_a_latest_tag_the_newest_version_describes_the_package() {
        let mut index = index();
        index.tags.clear();
        let doc = render(&index, "@alice/pkg", "http://r", false);
        assert_eq!(doc["description"], "second");
        assert_eq!(doc["license"], "MIT");
        assert_eq!(doc["readme"], "readme two");
        // A version without a file is not listed.
        index.versions[1].files.clear();
        let doc = render(&index, "@alice/pkg", "http://r", false);
        assert!(doc["versions"].get("2.0.0").is_none());
    }
}
