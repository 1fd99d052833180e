//! Pure renderers of a `PackageIndex` into NuGet's v3 JSON: the flat container's version
//! list, registration indexes, pages and leaves (the "package metadata" resource).
//! <https://learn.microsoft.com/nuget/api/registration-base-url-resource>
use serde_json::{Value, json};

use crate::domain::{
    index::{IndexedVersion, PackageIndex},
    metadata::{NugetMetadata, VersionMetadata},
};

use super::version::NugetVersion;

/// Registration pages hold at most this many versions; an index with more links its pages
/// instead of inlining them (nuget.org's bound).
pub const PAGE_SIZE: usize = 64;

/// Where the door's resources live: `{base}/nuget/{owner}`.
pub struct Urls {
    pub root: String,
}

impl Urls {
    pub fn new(base: &str, owner: &str) -> Self {
        Self {
            root: format!("{base}/nuget/{owner}"),
        }
    }
    pub fn registration_base(&self) -> String {
        format!("{}/v3/registration/", self.root)
    }
    pub fn flat_base(&self) -> String {
        format!("{}/v3/flatcontainer/", self.root)
    }
    pub fn registration_index(&self, lower_id: &str) -> String {
        format!("{}{lower_id}/index.json", self.registration_base())
    }
    pub fn leaf(&self, lower_id: &str, version: &str) -> String {
        format!(
            "{}{lower_id}/{}.json",
            self.registration_base(),
            version.to_ascii_lowercase()
        )
    }
    pub fn page(&self, lower_id: &str, lower: &str, upper: &str) -> String {
        format!(
            "{}{lower_id}/page/{}/{}.json",
            self.registration_base(),
            lower.to_ascii_lowercase(),
            upper.to_ascii_lowercase()
        )
    }
    pub fn content(&self, lower_id: &str, version: &str) -> String {
        let v = version.to_ascii_lowercase();
        format!("{}{lower_id}/{v}/{lower_id}.{v}.nupkg", self.flat_base())
    }
    pub fn readme(&self, lower_id: &str, version: &str) -> String {
        format!(
            "{}{lower_id}/{}/readme",
            self.flat_base(),
            version.to_ascii_lowercase()
        )
    }
}

/// A version of the index with its NuGet reading.
pub struct Entry<'a> {
    pub version: NugetVersion,
    pub indexed: &'a IndexedVersion,
    pub meta: &'a NugetMetadata,
}

/// The index's NuGet versions (those pushed through this door), lowest first by SemVer 2.0.
pub fn entries(index: &PackageIndex) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry<'_>> = index
        .versions
        .iter()
        .filter_map(|v| match &v.version.metadata {
            VersionMetadata::Nuget(meta) => Some(Entry {
                version: NugetVersion::parse(&v.version.version).ok()?,
                indexed: v,
                meta,
            }),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.version.cmp(&b.version));
    out
}

/// The package id as first published.
pub fn display_id(index: &PackageIndex) -> &str {
    &index.package.name
}

/// `{"versions": [...]}` of the flat container: every version, lower-case, normalized.
pub fn flat_versions(index: &PackageIndex) -> Value {
    let versions: Vec<String> = entries(index)
        .iter()
        .map(|e| e.version.normalized().to_ascii_lowercase())
        .collect();
    json!({ "versions": versions })
}

fn published(e: &Entry<'_>) -> String {
    if e.indexed.version.yanked {
        // nuget.org's mark of an unlisted version.
        "1900-01-01T00:00:00+00:00".to_string()
    } else {
        e.indexed
            .version
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

fn license_url(m: &NugetMetadata, id: &str, version: &str) -> String {
    if let Some(expr) = &m.license_expression {
        return format!("https://licenses.nuget.org/{}", expr.replace(' ', "%20"));
    }
    if m.license_file.is_some() {
        return format!("https://www.nuget.org/packages/{id}/{version}/License");
    }
    m.license_url.clone().unwrap_or_default()
}

/// The catalog entry of a version (what `dotnet restore` resolves dependencies from).
pub fn catalog_entry(urls: &Urls, id: &str, e: &Entry<'_>) -> Value {
    let lower = id.to_ascii_lowercase();
    let m = e.meta;
    let version = e.version.normalized();
    let leaf = urls.leaf(&lower, &version);
    let groups: Vec<Value> = m
        .dependency_groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let group_id = format!("{leaf}#dependencygroup/{i}");
            let deps: Vec<Value> = g
                .dependencies
                .iter()
                .map(|d| {
                    json!({
                        "@id": format!("{group_id}/{}", d.id.to_ascii_lowercase()),
                        "@type": "PackageDependency",
                        "id": d.id,
                        "range": d.range,
                        "registration": urls.registration_index(&d.id.to_ascii_lowercase()),
                    })
                })
                .collect();
            let mut group = json!({
                "@id": group_id,
                "@type": "PackageDependencyGroup",
                "dependencies": deps,
            });
            if let Some(tf) = &g.target_framework {
                group["targetFramework"] = json!(tf);
            }
            group
        })
        .collect();
    let mut entry = json!({
        "@id": leaf,
        "@type": "PackageDetails",
        "authors": m.authors.join(", "),
        "dependencyGroups": groups,
        "description": m.description.clone().unwrap_or_default(),
        "iconUrl": m.icon_url.clone().unwrap_or_default(),
        "id": id,
        "language": m.language.clone().unwrap_or_default(),
        "licenseExpression": m.license_expression.clone().unwrap_or_default(),
        "licenseUrl": license_url(m, id, &version),
        "listed": !e.indexed.version.yanked,
        "minClientVersion": m.min_client_version.clone().unwrap_or_default(),
        "packageContent": urls.content(&lower, &version),
        "projectUrl": m.project_url.clone().unwrap_or_default(),
        "published": published(e),
        "requireLicenseAcceptance": m.require_license_acceptance,
        "summary": m.summary.clone().unwrap_or_default(),
        "tags": m.tags,
        "title": m.title.clone().unwrap_or_default(),
        "version": NugetVersion::parse(&m.version).map_or(version.clone(), |v| v.full()),
    });
    if e.indexed.version.readme.is_some() {
        entry["readmeUrl"] = json!(urls.readme(&lower, &version));
    }
    if let Some(d) = &m.deprecation {
        let mut dep = json!({
            "@id": format!("{leaf}#deprecation"),
            "reasons": d.reasons,
        });
        if let Some(msg) = &d.message {
            dep["message"] = json!(msg);
        }
        entry["deprecation"] = dep;
    }
    entry
}

/// A leaf as a page inlines it.
fn page_item(urls: &Urls, id: &str, e: &Entry<'_>) -> Value {
    let lower = id.to_ascii_lowercase();
    let version = e.version.normalized();
    json!({
        "@id": urls.leaf(&lower, &version),
        "@type": "Package",
        "catalogEntry": catalog_entry(urls, id, e),
        "packageContent": urls.content(&lower, &version),
        "registration": urls.registration_index(&lower),
    })
}

fn page(urls: &Urls, id: &str, chunk: &[Entry<'_>], inline: bool) -> Value {
    let lower_id = id.to_ascii_lowercase();
    let (lower, upper) = match (chunk.first(), chunk.last()) {
        (Some(a), Some(b)) => (a.version.normalized(), b.version.normalized()),
        _ => (String::new(), String::new()),
    };
    let mut p = json!({
        "@id": urls.page(&lower_id, &lower, &upper),
        "@type": "catalog:CatalogPage",
        "count": chunk.len(),
        "lower": lower.to_ascii_lowercase(),
        "upper": upper.to_ascii_lowercase(),
    });
    if inline {
        p["items"] = chunk.iter().map(|e| page_item(urls, id, e)).collect();
        p["parent"] = json!(urls.registration_index(&lower_id));
    }
    p
}

/// The registration index: one inlined page for up to `PAGE_SIZE` versions, else linked
/// pages of `PAGE_SIZE` each.
pub fn registration_index(index: &PackageIndex, urls: &Urls) -> Value {
    let id = display_id(index);
    let all = entries(index);
    let inline = all.len() <= PAGE_SIZE;
    let pages: Vec<Value> = all
        .chunks(PAGE_SIZE)
        .map(|chunk| page(urls, id, chunk, inline))
        .collect();
    json!({
        "@id": urls.registration_index(&id.to_ascii_lowercase()),
        "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
        "count": pages.len(),
        "items": pages,
    })
}

/// A linked page: the versions between `lower` and `upper` (inclusive), inlined. `None`
/// when no page of the index has these bounds.
pub fn registration_page(
    index: &PackageIndex,
    urls: &Urls,
    lower: &NugetVersion,
    upper: &NugetVersion,
) -> Option<Value> {
    let id = display_id(index);
    let all = entries(index);
    let chunk = all.chunks(PAGE_SIZE).find(|c| {
        c.first().is_some_and(|e| &e.version == lower)
            && c.last().is_some_and(|e| &e.version == upper)
    })?;
    Some(page(urls, id, chunk, true))
}

/// A registration leaf (`{version}.json`).
pub fn registration_leaf(
    index: &PackageIndex,
    urls: &Urls,
    version: &NugetVersion,
) -> Option<Value> {
    let id = display_id(index);
    let lower = id.to_ascii_lowercase();
    let all = entries(index);
    let e = all.iter().find(|e| &e.version == version)?;
    let v = e.version.normalized();
    Some(json!({
        "@id": urls.leaf(&lower, &v),
        "@type": ["Package", "http://schema.nuget.org/catalog#Permalink"],
        "catalogEntry": urls.leaf(&lower, &v),
        "listed": !e.indexed.version.yanked,
        "packageContent": urls.content(&lower, &v),
        "published": published(e),
        "registration": urls.registration_index(&lower),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        PackageType, Visibility,
        index::IndexedVersion,
        metadata::{NugetDependency, NugetDependencyGroup},
        views::{PackageInfo, VersionInfo},
    };

    fn index_of(versions: &[(&str, bool)], meta: impl Fn(&str) -> NugetMetadata) -> PackageIndex {
        let now = chrono::Utc::now();
        PackageIndex {
            package: PackageInfo {
                id: 1,
                owner_id: 1,
                owner_login: "acme".into(),
                package_type: PackageType::Nuget,
                name: "Acme.Tool".into(),
                visibility: Visibility::Public,
                repository_id: None,
                inherit_access: true,
                created_at: now,
                updated_at: now,
                deleted_at: None,
                viewer_role: None,
            },
            versions: versions
                .iter()
                .enumerate()
                .map(|(i, (v, yanked))| IndexedVersion {
                    version: VersionInfo {
                        id: i as i64 + 1,
                        package_id: 1,
                        version: v.to_string(),
                        metadata: VersionMetadata::Nuget(meta(v)),
                        summary: None,
                        readme: (i == 0).then(|| "# readme".to_string()),
                        license: None,
                        prerelease: v.contains('-'),
                        yanked: *yanked,
                        publisher_id: None,
                        created_at: now,
                        updated_at: now,
                        deleted_at: None,
                    },
                    files: Vec::new(),
                })
                .collect(),
            tags: Vec::new(),
        }
    }

    fn plain(v: &str) -> NugetMetadata {
        NugetMetadata {
            id: "Acme.Tool".into(),
            version: v.into(),
            authors: vec!["Ada".into()],
            description: Some("d".into()),
            license_expression: Some("MIT".into()),
            project_url: Some("https://example.com".into()),
            dependency_groups: vec![NugetDependencyGroup {
                target_framework: Some("net6.0".into()),
                dependencies: vec![NugetDependency {
                    id: "Acme.Core".into(),
                    range: "[1.0.0, )".into(),
                }],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn flat_versions_are_lower_case_and_semver_ordered() {
        let index = index_of(
            &[("2.0.0", false), ("1.0.0-Beta", false), ("1.0.0", true)],
            plain,
        );
        assert_eq!(
            flat_versions(&index),
            json!({"versions": ["1.0.0-beta", "1.0.0", "2.0.0"]})
        );
    }

    #[test]
    fn a_small_index_inlines_its_leaves_with_what_restore_reads() {
        let urls = Urls::new("http://h", "acme");
        let index = index_of(&[("1.0.0", false), ("1.1.0", true)], plain);
        let doc = registration_index(&index, &urls);
        assert_eq!(doc["count"], 1);
        let page = &doc["items"][0];
        assert_eq!(page["lower"], "1.0.0");
        assert_eq!(page["upper"], "1.1.0");
        assert_eq!(page["count"], 2);
        let leaf = &page["items"][0];
        assert_eq!(
            leaf["@id"],
            "http://h/nuget/acme/v3/registration/acme.tool/1.0.0.json"
        );
        assert_eq!(
            leaf["packageContent"],
            "http://h/nuget/acme/v3/flatcontainer/acme.tool/1.0.0/acme.tool.1.0.0.nupkg"
        );
        let entry = &leaf["catalogEntry"];
        assert_eq!(entry["id"], "Acme.Tool");
        assert_eq!(entry["version"], "1.0.0");
        assert_eq!(entry["listed"], true);
        assert_eq!(entry["licenseExpression"], "MIT");
        assert_eq!(entry["licenseUrl"], "https://licenses.nuget.org/MIT");
        assert_eq!(entry["projectUrl"], "https://example.com");
        assert_eq!(
            entry["readmeUrl"],
            "http://h/nuget/acme/v3/flatcontainer/acme.tool/1.0.0/readme"
        );
        let dep = &entry["dependencyGroups"][0];
        assert_eq!(dep["targetFramework"], "net6.0");
        assert_eq!(dep["dependencies"][0]["id"], "Acme.Core");
        assert_eq!(dep["dependencies"][0]["range"], "[1.0.0, )");
        assert_eq!(
            dep["dependencies"][0]["registration"],
            "http://h/nuget/acme/v3/registration/acme.core/index.json"
        );
        let unlisted = &page["items"][1]["catalogEntry"];
        assert_eq!(unlisted["listed"], false);
        assert_eq!(unlisted["published"], "1900-01-01T00:00:00+00:00");
    }

    #[test]
    fn large_indexes_link_pages_of_64() {
        let urls = Urls::new("http://h", "acme");
        let names: Vec<String> = (0..130).map(|i| format!("1.0.{i}")).collect();
        let versions: Vec<(&str, bool)> = names.iter().map(|v| (v.as_str(), false)).collect();
        let index = index_of(&versions, plain);
        let doc = registration_index(&index, &urls);
        assert_eq!(doc["count"], 3);
        let first = &doc["items"][0];
        assert!(first.get("items").is_none());
        assert_eq!(
            (first["lower"].as_str(), first["upper"].as_str()),
            (Some("1.0.0"), Some("1.0.63"))
        );
        assert_eq!(
            first["@id"],
            "http://h/nuget/acme/v3/registration/acme.tool/page/1.0.0/1.0.63.json"
        );
        assert_eq!(doc["items"][2]["count"], 2);
        let v = |s: &str| NugetVersion::parse(s).expect("version");
        let page = registration_page(&index, &urls, &v("1.0.64"), &v("1.0.127")).expect("page");
        assert_eq!(page["items"].as_array().map(Vec::len), Some(64));
        assert!(registration_page(&index, &urls, &v("1.0.1"), &v("1.0.2")).is_none());
        let leaf = registration_leaf(&index, &urls, &v("1.0.5")).expect("leaf");
        assert_eq!(leaf["listed"], true);
        assert_eq!(
            leaf["catalogEntry"],
            "http://h/nuget/acme/v3/registration/acme.tool/1.0.5.json"
        );
        assert!(registration_leaf(&index, &urls, &v("9.0.0")).is_none());
    }
}
