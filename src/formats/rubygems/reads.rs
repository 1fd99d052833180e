//! What `gem` and `bundle` read: the source root, the compact index, `.gem` files, the
//! Marshal full index, bundler's dependency API and the JSON API.
use std::{collections::HashMap, sync::Arc};

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use bytes::Bytes;
use md5::Digest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    auth::Actor,
    domain::{
        FileName, OwnerName,
        index::PackageIndex,
        metadata::VersionMetadata,
        packages::PackageRef,
        rubygems::{GemLog, GemLogLine},
    },
    error::{DomainError, DomainResult, What},
    formats::kit::{
        http::{file_response, range_header},
        path::Valid,
    },
    state::AppState,
};

use super::{
    GemActor, GemResult, compact_index,
    full_index::{self, SpecTuple},
    index_file,
    paths::{GemFile, GemOwner, GemPath, Gems, gem_ref},
    version::compare,
};

/// `HEAD|GET /rubygems/OWNER/`: gem 3.3 asks before choosing the compact index.
pub(super) async fn root(Valid(GemOwner(_), _): Gems<GemOwner>) -> GemResult {
    Ok(super::text(StatusCode::OK, ""))
}

/// `/versions`: the owner's append-only log, the lines of gems the caller may read.
pub(super) async fn versions(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemOwner(owner), _): Gems<GemOwner>,
    headers: HeaderMap,
) -> GemResult {
    let actor = actor.into_inner();
    let log = state.domain.gem_log(&actor, &owner).await?;
    let log = if catch_up(&state, &actor, &owner, &log).await? {
        state.domain.gem_log(&actor, &owner).await?
    } else {
        log
    };
    Ok(index_file(&headers, compact_index::versions(&log)))
}

/// Pushes and yanks append their lines as they happen; a change made elsewhere (GraphQL's
/// unyank, a version deleted or restored) is noticed here, when a gem's last logged digest
/// isn't its info file's, and appended then, so bundler, which fetches an info file only
/// when its digest in `/versions` changes, sees it. Whether anything was appended.
async fn catch_up(
    state: &AppState,
    actor: &Actor,
    owner: &OwnerName,
    log: &GemLog,
) -> DomainResult<bool> {
    let mut appended = false;
    for (id, name) in &log.gems {
        let lines: Vec<&GemLogLine> = log.lines.iter().filter(|l| l.package_id == *id).collect();
        let r = gem_ref(owner, name)?;
        let info = info_document(state, actor, &r).await?;
        let digest = hex::encode(md5::Md5::digest(&info));
        if lines.last().is_some_and(|l| l.info_digest == digest) {
            continue;
        }
        let logged: Vec<&str> = lines.iter().map(|l| l.entry.as_str()).collect();
        let entries = compact_index::catch_up(&logged, &compact_index::info_entries(&info));
        if entries.is_empty() {
            continue;
        }
        state
            .domain
            .reconcile_gem_log(actor, &r, &entries, &digest)
            .await?;
        appended = true;
    }
    Ok(appended)
}

/// The info file of a gem (cached per package like every index document).
async fn info_document(state: &AppState, actor: &Actor, r: &PackageRef) -> DomainResult<Bytes> {
    Ok(state
        .domain
        .package_document(actor, r, "rubygems-info", |index| {
            Ok(Bytes::from(compact_index::info(index)))
        })
        .await?
        .body)
}

/// `/names`.
pub(super) async fn names(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemOwner(owner), _): Gems<GemOwner>,
    headers: HeaderMap,
) -> GemResult {
    let log = state.domain.gem_log(&actor.into_inner(), &owner).await?;
    Ok(index_file(&headers, compact_index::names(&log.names())))
}

/// `/info/NAME` (cached per package like every index document).
pub(super) async fn info(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemPath(r), _): Gems<GemPath>,
    headers: HeaderMap,
) -> GemResult {
    let info = info_document(&state, &actor.into_inner(), &r).await?;
    Ok(index_file(&headers, info.to_vec()))
}

/// `/gems/NAME-VERSION[-PLATFORM].gem` (counts a download). A platform yanked on its own
/// is gone like a yanked version.
pub(super) async fn gem_file(
    State(state): State<AppState>,
    actor: GemActor,
    method: axum::http::Method,
    Valid(path, _): Gems<GemFile>,
    headers: HeaderMap,
) -> GemResult {
    let actor = actor.into_inner();
    let r = &path.full.package;
    let name = FileName::parse(&path.file)?;
    let (_, v, file) = state
        .domain
        .stat_file(&actor, r, &path.full.version, &name)
        .await?;
    if let VersionMetadata::Rubygems(m) = &v.metadata
        && m.yanked_platforms.contains(&path.full.platform)
    {
        return Err(DomainError::not_found(What::File, format!("{} is yanked", path.file)).into());
    }
    if method == axum::http::Method::HEAD {
        // A probe (mirrors, proxies) is not a download.
        return Ok(crate::formats::kit::http::head_response(&file));
    }
    let download = state
        .domain
        .open_file(&actor, r, &path.full.version, &name, range_header(&headers))
        .await?;
    Ok(file_response(download, false))
}

/// The installable `.gem` a full name names, from the gem's index.
fn find_row<'a>(
    index: &'a PackageIndex,
    version: &str,
    platform: &str,
) -> DomainResult<compact_index::GemRow<'a>> {
    compact_index::rows(index)
        .into_iter()
        .find(|row| row.version == version && row.platform == platform)
        .ok_or_else(|| DomainError::not_found(What::Version, format!("{version} ({platform})")))
}

/// `quick/Marshal.4.8/NAME-VERSION[-PLATFORM].gemspec.rz`: the gemspec `gem install` loads
/// for every gem it resolves.
pub(super) async fn quick_spec(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(path, _): Gems<GemFile>,
) -> GemResult {
    let full = &path.full;
    let index = state
        .domain
        .package_index(&actor.into_inner(), &full.package)
        .await?;
    let row = find_row(&index, full.version.as_str(), &full.platform)?;
    let body = full_index::quick_spec(&index.package.name, &row);
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

/// The indexes of every gem of the owner the caller may read.
async fn owner_indexes(
    state: &AppState,
    actor: &Actor,
    owner: &OwnerName,
) -> DomainResult<Vec<Arc<PackageIndex>>> {
    let log = state.domain.gem_log(actor, owner).await?;
    let mut out = Vec::with_capacity(log.gems.len());
    for (_, name) in &log.gems {
        let r = gem_ref(owner, name)?;
        out.push(state.domain.package_index(actor, &r).await?);
    }
    Ok(out)
}

/// Which tuples a specs index lists.
#[derive(Clone, Copy, PartialEq)]
enum Specs {
    /// Every release.
    All,
    /// The highest release per gem and platform.
    Latest,
    /// Every prerelease.
    Prerelease,
}

async fn serve_specs(state: &AppState, actor: Actor, owner: &OwnerName, which: Specs) -> GemResult {
    let indexes = owner_indexes(state, &actor, owner).await?;
    let mut tuples: Vec<SpecTuple<'_>> = Vec::new();
    for index in &indexes {
        let rows = compact_index::rows(index);
        let name = index.package.name.as_str();
        let mut picked: Vec<SpecTuple<'_>> = rows
            .iter()
            .filter(|r| r.prerelease == (which == Specs::Prerelease))
            .map(|r| SpecTuple {
                name,
                version: r.version,
                platform: r.platform,
            })
            .collect();
        if which == Specs::Latest {
            let mut highest: HashMap<&str, SpecTuple<'_>> = HashMap::new();
            for t in picked {
                match highest.get(t.platform) {
                    Some(h) if compare(h.version, t.version).is_ge() => {}
                    _ => {
                        highest.insert(t.platform, t);
                    }
                }
            }
            picked = highest.into_values().collect();
            picked.sort_by(|a, b| a.platform.cmp(b.platform));
        }
        tuples.extend(picked);
    }
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        full_index::specs(&tuples),
    )
        .into_response())
}

pub(super) async fn specs(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemOwner(owner), _): Gems<GemOwner>,
) -> GemResult {
    serve_specs(&state, actor.into_inner(), &owner, Specs::All).await
}

pub(super) async fn latest_specs(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemOwner(owner), _): Gems<GemOwner>,
) -> GemResult {
    serve_specs(&state, actor.into_inner(), &owner, Specs::Latest).await
}

pub(super) async fn prerelease_specs(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemOwner(owner), _): Gems<GemOwner>,
) -> GemResult {
    serve_specs(&state, actor.into_inner(), &owner, Specs::Prerelease).await
}

#[derive(Deserialize)]
pub(super) struct DependenciesQuery {
    gems: Option<String>,
}

/// Bundler's dependency API (`/api/v1/dependencies?gems=a,b`), Marshal. Gems the caller
/// can't see are left out (bundler asks for many names at once), except that an
/// anonymous caller gets the 401 that makes bundler send its credentials.
pub(super) async fn dependencies(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemOwner(owner), _): Gems<GemOwner>,
    Query(q): Query<DependenciesQuery>,
) -> GemResult {
    let actor = actor.into_inner();
    let names: Vec<&str> = q
        .gems
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .take(200)
        .collect();
    let mut indexes = Vec::new();
    for name in names {
        let Ok(r) = gem_ref(&owner, name) else {
            continue;
        };
        match state.domain.package_index(&actor, &r).await {
            Ok(index) => indexes.push(index),
            Err(DomainError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let rows: Vec<(&str, compact_index::GemRow<'_>)> = indexes
        .iter()
        .flat_map(|index| {
            compact_index::rows(index)
                .into_iter()
                .map(|row| (index.package.name.as_str(), row))
        })
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        full_index::dependencies(&rows),
    )
        .into_response())
}

/// The JSON of one installable `.gem`, as rubygems.org's API shows a version.
fn version_json(
    base: &str,
    r: &PackageRef,
    row: &compact_index::GemRow<'_>,
    downloads: i64,
) -> Value {
    let f = row.facts;
    let deps = |kind: &str| -> Vec<Value> {
        f.dependencies
            .iter()
            .filter(|d| d.kind == kind)
            .map(|d| {
                json!({"name": d.name, "requirements": if d.requirements.is_empty() {
                    ">= 0".to_string()
                } else {
                    d.requirements.join(", ")
                }})
            })
            .collect()
    };
    let source = format!("{base}/rubygems/{}", r.owner);
    json!({
        "name": r.name.as_str(),
        "version": row.version,
        "number": row.version,
        "platform": row.platform,
        "prerelease": row.prerelease,
        "authors": f.authors.join(", "),
        "info": f.description.clone().or_else(|| f.summary.clone()),
        "summary": f.summary,
        "description": f.description,
        "licenses": f.licenses,
        "metadata": f.metadata,
        "sha": row.sha256,
        "downloads": downloads,
        "homepage_uri": f.homepage,
        "source_code_uri": f.metadata.get("source_code_uri"),
        "project_uri": format!("{source}/api/v1/gems/{}.json", r.name),
        "gem_uri": format!("{source}/gems/{}", f.file),
        "ruby_version": (!f.required_ruby_version.is_empty()).then(|| f.required_ruby_version.join(", ")),
        "rubygems_version": (!f.required_rubygems_version.is_empty()).then(|| f.required_rubygems_version.join(", ")),
        "dependencies": {"runtime": deps("runtime"), "development": deps("development")},
    })
}

/// `GET /api/v1/gems/NAME.json`: the latest release (else the latest version).
pub(super) async fn gem_json(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemPath(r), _): Gems<GemPath>,
) -> GemResult {
    let index = state.domain.package_index(&actor.into_inner(), &r).await?;
    let rows = compact_index::rows(&index);
    let latest = rows
        .iter()
        .filter(|row| row.platform == "ruby" || rows.iter().all(|o| o.platform != "ruby"))
        // Releases before prereleases, then by `Gem::Version`.
        .max_by(|a, b| {
            (!a.prerelease)
                .cmp(&!b.prerelease)
                .then_with(|| compare(a.version, b.version))
        })
        .ok_or_else(|| {
            DomainError::not_found(What::Version, format!("no versions of {}", r.name))
        })?;
    let totals = state
        .domain
        .package_download_totals(&[index.package.id])
        .await?;
    let mut body = version_json(&state.config.base_url(), &r, latest, 0);
    body["downloads"] = json!(totals.get(&index.package.id).copied().unwrap_or(0));
    Ok(Json(body).into_response())
}

/// `GET /api/v1/versions/NAME.json`: every installable `.gem`, highest first.
pub(super) async fn versions_json(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemPath(r), _): Gems<GemPath>,
) -> GemResult {
    let index = state.domain.package_index(&actor.into_inner(), &r).await?;
    let mut rows = compact_index::rows(&index);
    rows.sort_by(|a, b| compare(b.version, a.version).then(a.platform.cmp(b.platform)));
    let ids: Vec<i64> = rows.iter().map(|row| row.version_id).collect();
    let totals = state.domain.version_download_totals(&ids).await?;
    let base = state.config.base_url();
    let list: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut v = version_json(&base, &r, row, 0);
            v["downloads_count"] = json!(totals.get(&row.version_id).copied().unwrap_or(0));
            v
        })
        .collect();
    Ok(Json(list).into_response())
}
