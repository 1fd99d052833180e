//! What NuGet clients read: the service index, the flat container (package content),
//! registrations (package metadata), search and autocomplete. JSON is gzip-compressed when
//! the client asks (NuGet sends `Accept-Encoding: gzip, deflate` on every request).
use std::io::Write;

use axum::{
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    domain::{
        FileName, PackageType, VersionName,
        index::PackageIndex,
        packages::{PackageFilter, PackageOrder},
    },
    error::{DomainError, What},
    formats::kit::{
        http::{file_response, head_response, range_header},
        path::Valid,
    },
    state::AppState,
};

use super::{
    NugetActor, NugetResult,
    paths::{
        FlatFile, Nuget, NugetFile, NugetId, NugetIdVersion, NugetOwner, NugetPage,
        package_file_name,
    },
    registrations::{self, Urls, entries},
    version::NugetVersion,
};

/// Whether the client takes gzip (NuGet sends `Accept-Encoding: gzip, deflate`).
fn wants_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|e| {
                e.split(';')
                    .next()
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"))
            })
        })
}

fn gzip(body: &[u8]) -> Result<Bytes, DomainError> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(body).map_err(DomainError::internal)?;
    enc.finish().map(Bytes::from).map_err(DomainError::internal)
}

/// How a document's body is encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Plain JSON: compressed here if the client asks.
    Identity,
    /// Already gzip-compressed (a cached rendering for clients that ask).
    Gzip,
}

/// JSON as NuGet reads it: gzip when accepted; `ETag` / `If-None-Match` when known.
fn json_response(
    headers: &HeaderMap,
    body: Bytes,
    etag: Option<&str>,
    encoding: Encoding,
) -> Result<Response, DomainError> {
    if let Some(etag) = etag
        && headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == Some(etag)
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag.to_string())]).into_response());
    }
    let gzipped = encoding == Encoding::Gzip || (wants_gzip(headers) && body.len() > 256);
    let body = if encoding == Encoding::Identity && gzipped {
        gzip(&body)?
    } else {
        body
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzipped {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Some(etag) = etag
        && let Ok(v) = HeaderValue::from_str(etag)
    {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}

/// A cached document of the package: rendered (and, for clients that take gzip,
/// compressed) once per change, not per request.
async fn cached_document(
    state: &AppState,
    actor: &crate::auth::Actor,
    package: &crate::domain::packages::PackageRef,
    kinds: (&'static str, &'static str),
    headers: &HeaderMap,
    render: impl FnOnce(&PackageIndex) -> Value,
) -> Result<Response, DomainError> {
    let gz = wants_gzip(headers);
    let kind = if gz { kinds.1 } else { kinds.0 };
    let doc = state
        .domain
        .package_document(actor, package, kind, |index| {
            let body = to_bytes(&render(index))?;
            if gz { gzip(&body) } else { Ok(body) }
        })
        .await?;
    let encoding = if gz {
        Encoding::Gzip
    } else {
        Encoding::Identity
    };
    json_response(headers, doc.body, Some(&doc.etag), encoding)
}

fn to_bytes(v: &Value) -> Result<Bytes, DomainError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(DomainError::internal)
}

/// The service index: readable by anyone (it names no package).
pub(super) async fn service_index(
    State(state): State<AppState>,
    Valid(NugetOwner(owner), _): Nuget<NugetOwner>,
    headers: HeaderMap,
) -> NugetResult {
    let urls = Urls::new(&state.config.base_url(), owner.as_str());
    let root = &urls.root;
    let mut resources = Vec::new();
    let mut add = |id: String, types: &[&str], comment: &str| {
        for t in types {
            resources.push(json!({"@id": id, "@type": t, "comment": comment}));
        }
    };
    add(
        format!("{root}/api/v2/package"),
        &["PackagePublish/2.0.0"],
        "Push and delete (or unlist) packages.",
    );
    add(
        format!("{root}/api/v2/symbolpackage"),
        &["SymbolPackagePublish/4.9.0"],
        "Push symbol packages.",
    );
    add(
        urls.flat_base(),
        &["PackageBaseAddress/3.0.0"],
        "Base URL of where NuGet packages are stored, in the format {id}/{version}/{id}.{version}.nupkg",
    );
    add(
        urls.registration_base(),
        &[
            "RegistrationsBaseUrl",
            "RegistrationsBaseUrl/3.0.0-rc",
            "RegistrationsBaseUrl/3.0.0-beta",
            "RegistrationsBaseUrl/3.4.0",
            "RegistrationsBaseUrl/3.6.0",
            "RegistrationsBaseUrl/Versioned",
        ],
        "Base URL of the package registrations (every version, SemVer 2.0.0 included, gzip when asked).",
    );
    add(
        format!("{root}/v3/query"),
        &[
            "SearchQueryService",
            "SearchQueryService/3.0.0-rc",
            "SearchQueryService/3.0.0-beta",
            "SearchQueryService/3.5.0",
        ],
        "Query endpoint of NuGet Search service.",
    );
    add(
        format!("{root}/v3/autocomplete"),
        &[
            "SearchAutocompleteService",
            "SearchAutocompleteService/3.0.0-rc",
            "SearchAutocompleteService/3.0.0-beta",
            "SearchAutocompleteService/3.5.0",
        ],
        "Autocomplete endpoint of NuGet Search service.",
    );
    add(
        format!("{}{{lower_id}}/{{lower_version}}/readme", urls.flat_base()),
        &["ReadmeUriTemplate/6.13.0"],
        "URI template used by NuGet Client to construct a URL for downloading a package's README.",
    );
    let doc = json!({
        "version": "3.0.0",
        "resources": resources,
        "@context": {
            "@vocab": "http://schema.nuget.org/services#",
            "comment": "http://www.w3.org/2000/01/rdf-schema#comment",
        },
    });
    Ok(json_response(
        &headers,
        to_bytes(&doc)?,
        None,
        Encoding::Identity,
    )?)
}

/// `{id}/index.json` of the flat container.
pub(super) async fn flat_versions(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(NugetId { package }, _): Nuget<NugetId>,
    headers: HeaderMap,
) -> NugetResult {
    Ok(cached_document(
        &state,
        &actor.into_inner(),
        &package,
        ("nuget-flat", "nuget-flat-gzip"),
        &headers,
        registrations::flat_versions,
    )
    .await?)
}

/// The version of `index` NuGet calls `version` (any case): its stored name.
fn stored_version(
    index: &PackageIndex,
    version: &NugetVersion,
) -> Result<VersionName, DomainError> {
    let all = entries(index);
    let e = all
        .iter()
        .find(|e| &e.version == version)
        .ok_or_else(|| DomainError::not_found(What::Version, format!("version {version}")))?;
    VersionName::parse(&e.indexed.version.version)
}

/// `{id}/{version}/{id}.{version}.nupkg` (a GET counts a download), `.snupkg`, `.nuspec`
/// and `readme`.
pub(super) async fn flat_file(
    State(state): State<AppState>,
    actor: NugetActor,
    method: Method,
    Valid(path, _): Nuget<NugetFile>,
    headers: HeaderMap,
) -> NugetResult {
    let actor = actor.into_inner();
    let NugetFile {
        package,
        version,
        kind,
    } = path;
    let index = state.domain.package_index(&actor, &package).await?;
    let name = stored_version(&index, &version)?;
    let id = &index.package.name;
    let file = match kind {
        FlatFile::Nupkg => package_file_name(id, &name, "nupkg"),
        FlatFile::Snupkg => package_file_name(id, &name, "snupkg"),
        FlatFile::Nuspec => format!("{}.nuspec", id.to_ascii_lowercase()),
        FlatFile::Readme => {
            let readme = index
                .versions
                .iter()
                .find(|v| v.version.version == name.as_str())
                .and_then(|v| v.version.readme.clone())
                .ok_or_else(|| DomainError::not_found(What::File, "readme"))?;
            return Ok((
                [
                    (header::CONTENT_TYPE, "text/markdown; charset=utf-8"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                readme,
            )
                .into_response());
        }
    };
    let file = FileName::parse(&file)?;
    if method == Method::HEAD {
        let (_, _, info) = state
            .domain
            .stat_file(&actor, &package, &name, &file)
            .await?;
        return Ok(head_response(&info));
    }
    let download = state
        .domain
        .open_file(&actor, &package, &name, &file, range_header(&headers))
        .await?;
    Ok(file_response(download, false))
}

fn urls_of(state: &AppState, owner: &str) -> Urls {
    Urls::new(&state.config.base_url(), owner)
}

/// `registration/{id}/index.json`.
pub(super) async fn registration_index(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(NugetId { package }, _): Nuget<NugetId>,
    headers: HeaderMap,
) -> NugetResult {
    let urls = urls_of(&state, package.owner.as_str());
    Ok(cached_document(
        &state,
        &actor.into_inner(),
        &package,
        ("nuget-registration", "nuget-registration-gzip"),
        &headers,
        |index| registrations::registration_index(index, &urls),
    )
    .await?)
}

/// `registration/{id}/page/{lower}/{upper}.json`.
pub(super) async fn registration_page(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(
        NugetPage {
            package,
            lower,
            upper,
        },
        _,
    ): Nuget<NugetPage>,
    headers: HeaderMap,
) -> NugetResult {
    let urls = urls_of(&state, package.owner.as_str());
    let index = state
        .domain
        .package_index(&actor.into_inner(), &package)
        .await?;
    let page = registrations::registration_page(&index, &urls, &lower, &upper)
        .ok_or_else(|| DomainError::not_found(What::Version, "registration page"))?;
    Ok(json_response(
        &headers,
        to_bytes(&page)?,
        None,
        Encoding::Identity,
    )?)
}

/// `registration/{id}/{version}.json`.
pub(super) async fn registration_leaf(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(NugetIdVersion { package, version }, _): Nuget<NugetIdVersion>,
    headers: HeaderMap,
) -> NugetResult {
    let urls = urls_of(&state, package.owner.as_str());
    let index = state
        .domain
        .package_index(&actor.into_inner(), &package)
        .await?;
    let leaf = registrations::registration_leaf(&index, &urls, &version)
        .ok_or_else(|| DomainError::not_found(What::Version, format!("version {version}")))?;
    Ok(json_response(
        &headers,
        to_bytes(&leaf)?,
        None,
        Encoding::Identity,
    )?)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct SearchQuery {
    q: Option<String>,
    skip: Option<u64>,
    take: Option<u64>,
    prerelease: Option<String>,
    sem_ver_level: Option<String>,
    package_type: Option<String>,
    /// Autocomplete's "versions of this id".
    id: Option<String>,
}

impl SearchQuery {
    fn prerelease(&self) -> bool {
        self.prerelease
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("true"))
    }

    fn semver2(&self) -> bool {
        self.sem_ver_level
            .as_deref()
            .and_then(|l| NugetVersion::parse(l).ok())
            .is_some_and(|l| l >= NugetVersion::parse("2.0.0").expect("a version"))
    }

    /// The text to match ids against: `packageid:X` and `id:X` mean X.
    fn text(&self) -> (String, bool) {
        let q = self.q.clone().unwrap_or_default();
        let q = q.trim();
        for prefix in ["packageid:", "id:"] {
            if q.len() > prefix.len() && q[..prefix.len()].eq_ignore_ascii_case(prefix) {
                return (q[prefix.len()..].trim().to_string(), prefix == "packageid:");
            }
        }
        (q.to_string(), false)
    }
}

/// The versions of `index` a search shows: listed, prerelease and SemVer 2.0.0 ones only
/// when asked.
fn visible<'a>(index: &'a PackageIndex, q: &SearchQuery) -> Vec<registrations::Entry<'a>> {
    let (pre, semver2) = (q.prerelease(), q.semver2());
    entries(index)
        .into_iter()
        .filter(|e| !e.indexed.version.yanked)
        .filter(|e| pre || !e.version.is_prerelease())
        .filter(|e| semver2 || !e.version.is_semver2())
        .collect()
}

/// The owner's packages whose id contains the text, as the caller may read them.
async fn candidates(
    state: &AppState,
    actor: &crate::auth::Actor,
    owner: &crate::domain::OwnerName,
    text: &str,
    skip: u64,
    take: u64,
) -> Result<(Vec<crate::domain::views::PackageInfo>, u64), DomainError> {
    let account = match state.domain.find_account(owner).await {
        Ok(a) => a,
        Err(DomainError::NotFound { .. }) => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let filter = PackageFilter {
        owner_id: Some(account.id),
        package_type: Some(PackageType::Nuget),
        query: Some(text.to_string()),
        ..Default::default()
    };
    state
        .domain
        .list_packages(actor, &filter, PackageOrder::NameAsc, skip, take)
        .await
}

/// Candidates are read from the database in pages of this many while searching.
const SEARCH_BATCH: u64 = 500;

/// Whether a search shows this package, given its shown versions: some version is shown,
/// the id matches exactly when `packageid:` asked, and the latest shown version has the
/// asked `packageType` (no declared type means `Dependency`).
fn search_shows(name: &str, shown: &[registrations::Entry<'_>], q: &SearchQuery) -> bool {
    let (text, exact) = q.text();
    if exact && !name.eq_ignore_ascii_case(&text) {
        return false;
    }
    let Some(latest) = shown.last() else {
        return false;
    };
    match q.package_type.as_deref().filter(|t| !t.is_empty()) {
        None => true,
        Some(t) if latest.meta.package_types.is_empty() => t.eq_ignore_ascii_case("Dependency"),
        Some(t) => latest
            .meta
            .package_types
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(t)),
    }
}

/// `SearchQueryService`: `q`, `skip`, `take`, `prerelease`, `semVerLevel`, `packageType`.
///
/// `totalHits` counts what `data` can page through: the filters decide on each candidate
/// before `skip` and `take` apply, so every candidate the caller may read is looked at.
pub(super) async fn search(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(NugetOwner(owner), _): Nuget<NugetOwner>,
    Query(q): Query<SearchQuery>,
    headers: HeaderMap,
) -> NugetResult {
    let actor = actor.into_inner();
    let (text, _) = q.text();
    let skip = q.skip.unwrap_or(0);
    let take = q.take.unwrap_or(20).min(100);
    let mut hits = Vec::new();
    let mut total: u64 = 0;
    let mut offset = 0;
    loop {
        let (packages, candidates_total) =
            candidates(&state, &actor, &owner, &text, offset, SEARCH_BATCH).await?;
        let read = packages.len() as u64;
        for p in packages {
            let r = super::paths::package_ref(&owner, &p.name)?;
            let index = state.domain.package_index(&actor, &r).await?;
            if !search_shows(&p.name, &visible(&index, &q), &q) {
                continue;
            }
            if total >= skip && total < skip.saturating_add(take) {
                hits.push((p, index));
            }
            total += 1;
        }
        offset += read;
        if read == 0 || offset >= candidates_total {
            break;
        }
    }
    let urls = urls_of(&state, owner.as_str());
    let mut data = Vec::new();
    for (p, index) in hits {
        let shown = visible(&index, &q);
        let Some(latest) = shown.last() else { continue };
        let ids: Vec<i64> = shown.iter().map(|e| e.indexed.version.id).collect();
        let downloads = state.domain.version_download_totals(&ids).await?;
        let lower = p.name.to_ascii_lowercase();
        let versions: Vec<Value> = shown
            .iter()
            .map(|e| {
                json!({
                    "version": e.version.normalized(),
                    "downloads": downloads.get(&e.indexed.version.id).copied().unwrap_or(0),
                    "@id": urls.leaf(&lower, &e.version.normalized()),
                })
            })
            .collect();
        let total_downloads: i64 = downloads.values().sum();
        let m = latest.meta;
        let mut item = json!({
            "@id": urls.registration_index(&lower),
            "@type": "Package",
            "registration": urls.registration_index(&lower),
            "id": p.name,
            "version": latest.version.normalized(),
            "description": m.description.clone().unwrap_or_default(),
            "summary": m.summary.clone().unwrap_or_default(),
            "title": m.title.clone().unwrap_or_else(|| p.name.clone()),
            "iconUrl": m.icon_url.clone().unwrap_or_default(),
            "licenseUrl": m.license_url.clone().unwrap_or_default(),
            "projectUrl": m.project_url.clone().unwrap_or_default(),
            "tags": m.tags,
            "authors": m.authors,
            "owners": [owner.as_str()],
            "totalDownloads": total_downloads,
            "verified": false,
            "packageTypes": if m.package_types.is_empty() {
                vec![json!({"name": "Dependency"})]
            } else {
                m.package_types.iter().map(|t| json!({"name": t.name})).collect()
            },
            "versions": versions,
        });
        if let Some(expr) = &m.license_expression {
            item["licenseUrl"] = json!(format!("https://licenses.nuget.org/{expr}"));
        }
        data.push(item);
    }
    let doc = json!({"totalHits": total, "data": data});
    Ok(json_response(
        &headers,
        to_bytes(&doc)?,
        None,
        Encoding::Identity,
    )?)
}

/// `SearchAutocompleteService`: ids containing `q`, or the versions of `id`.
pub(super) async fn autocomplete(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(NugetOwner(owner), _): Nuget<NugetOwner>,
    Query(q): Query<SearchQuery>,
    headers: HeaderMap,
) -> NugetResult {
    let actor = actor.into_inner();
    let doc = if let Some(id) = q.id.as_deref().filter(|i| !i.is_empty()) {
        let r = super::paths::package_ref(&owner, id)?;
        let versions: Vec<String> = match state.domain.package_index(&actor, &r).await {
            Ok(index) => visible(&index, &q)
                .iter()
                .map(|e| e.version.normalized())
                .collect(),
            // Autocomplete answers an id nobody may see with nothing, as nuget.org does.
            Err(DomainError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        json!({"totalHits": versions.len(), "data": versions})
    } else {
        let (text, _) = q.text();
        let take = q.take.unwrap_or(20).min(100);
        let (packages, total) =
            candidates(&state, &actor, &owner, &text, q.skip.unwrap_or(0), take).await?;
        let ids: Vec<String> = packages.into_iter().map(|p| p.name).collect();
        json!({"totalHits": total, "data": ids})
    };
    Ok(json_response(
        &headers,
        to_bytes(&doc)?,
        None,
        Encoding::Identity,
    )?)
}
