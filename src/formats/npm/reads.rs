//! What npm clients read: ping, search, the packument, tarballs and dist-tags.
use std::collections::HashMap;

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    auth::Actor,
    domain::{
        FileName, PackageType,
        packages::{PackageFilter, PackageOrder, PackageRef},
    },
    error::DomainError,
    formats::kit::http::file_response,
    formats::kit::path::Valid,
    state::AppState,
};

use super::{
    NpmActor, NpmResult,
    paths::{Npm, NpmPackage, NpmTarball},
};

pub(super) async fn ping() -> Json<Value> {
    Json(json!({}))
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    text: Option<String>,
    size: Option<u64>,
    from: Option<u64>,
}

/// `npm search`: packages whose name contains the text, among those the caller may read.
pub(super) async fn search(
    State(state): State<AppState>,
    actor: NpmActor,
    Query(q): Query<SearchQuery>,
) -> NpmResult {
    let actor = actor.into_inner();
    let text = q.text.unwrap_or_default();
    // `npm search @scope/x` and `scope:x` forms: match on the part after the scope.
    let query = text.rsplit('/').next().unwrap_or_default().to_string();
    let filter = PackageFilter {
        package_type: Some(PackageType::Npm),
        query: Some(query),
        ..Default::default()
    };
    let size = q.size.unwrap_or(20).clamp(1, 250);
    let (packages, total) = state
        .domain
        .list_packages(
            &actor,
            &filter,
            PackageOrder::NameAsc,
            q.from.unwrap_or(0),
            size,
        )
        .await?;
    let ids: Vec<i64> = packages.iter().map(|p| p.id).collect();
    let latest = state.domain.latest_versions_of(&ids).await?;
    let base = state.config.base_url();
    let objects: Vec<Value> = packages
        .iter()
        .map(|p| {
            let v = latest.get(&p.id);
            json!({
                "package": {
                    "name": format!("@{}/{}", p.owner_login, p.name),
                    "scope": p.owner_login,
                    "version": v.map(|v| v.version.clone()),
                    "description": v.and_then(|v| v.summary.clone()),
                    "date": p.updated_at,
                    "links": {"npm": format!("{base}/npm/@{}/{}", p.owner_login, p.name)},
                    "publisher": {"username": p.owner_login},
                    "maintainers": [{"username": p.owner_login}],
                },
                "score": {"final": 1.0, "detail": {"quality": 1.0, "popularity": 1.0, "maintenance": 1.0}},
                "searchScore": 1.0,
            })
        })
        .collect();
    Ok(
        Json(json!({"objects": objects, "total": total, "time": chrono::Utc::now()}))
            .into_response(),
    )
}

/// npm registry API: the packument (`GET /{package}`).
pub(super) async fn packument(
    State(state): State<AppState>,
    actor: NpmActor,
    Valid(NpmPackage(r), _): Npm<NpmPackage>,
    headers: HeaderMap,
) -> NpmResult {
    serve_packument(&state, actor.into_inner(), &r, &headers).await
}

/// The packument: full, or abbreviated for `Accept: application/vnd.npm.install-v1+json`;
/// `ETag` / `If-None-Match` give 304s.
async fn serve_packument(
    state: &AppState,
    actor: Actor,
    r: &PackageRef,
    headers: &HeaderMap,
) -> NpmResult {
    let abbreviated = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/vnd.npm.install-v1+json"));
    let kind = if abbreviated {
        "npm-abbreviated"
    } else {
        "npm-full"
    };
    let document = state
        .domain
        .package_document(&actor, r, kind, |index| {
            let base = state.config.base_url();
            let doc =
                super::packument::render(index, &super::paths::full_name(r), &base, abbreviated);
            serde_json::to_vec(&doc)
                .map(Bytes::from)
                .map_err(DomainError::internal)
        })
        .await?;
    let (body, etag) = (document.body, document.etag);
    let content_type = if abbreviated {
        "application/vnd.npm.install-v1+json"
    } else {
        "application/json"
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response())
}

/// A version's tarball (`GET|HEAD /{package}/-/{name}-{version}.tgz`).
pub(super) async fn tarball(
    State(state): State<AppState>,
    actor: NpmActor,
    method: axum::http::Method,
    Valid(path, _): Npm<NpmTarball>,
    headers: HeaderMap,
) -> NpmResult {
    serve_tarball(
        &state,
        actor.into_inner(),
        &path,
        &headers,
        method == axum::http::Method::HEAD,
    )
    .await
}

async fn serve_tarball(
    state: &AppState,
    actor: Actor,
    NpmTarball {
        package: r,
        version,
        file,
    }: &NpmTarball,
    headers: &HeaderMap,
    head: bool,
) -> NpmResult {
    let name = FileName::parse(file)?;
    if head {
        // A probe (mirrors, proxies) is not a download.
        let (_, _, info) = state.domain.stat_file(&actor, r, version, &name).await?;
        return Ok(crate::formats::kit::http::head_response(&info));
    }
    let range = crate::formats::kit::http::range_header(headers);
    let download = state
        .domain
        .open_file(&actor, r, version, &name, range)
        .await?;
    Ok(file_response(download, false))
}

/// `npm dist-tag ls`.
pub(super) async fn list_dist_tags(
    State(state): State<AppState>,
    actor: NpmActor,
    Valid(NpmPackage(r), _): Npm<NpmPackage>,
) -> NpmResult {
    dist_tags(&state, actor.into_inner(), &r).await
}

async fn dist_tags(state: &AppState, actor: Actor, r: &PackageRef) -> NpmResult {
    let pkg = state.domain.find_package(&actor, r).await?;
    let tags = state.domain.tags_of_packages(&[pkg.id]).await?;
    let map: HashMap<String, String> = tags
        .get(&pkg.id)
        .into_iter()
        .flatten()
        .map(|t| (t.name.clone(), t.version.clone()))
        .collect();
    Ok(Json(map).into_response())
}
