//! GitHub REST API "Packages": list, get, delete and restore packages and their versions
//! under `/user`, `/orgs/{org}` and `/users/{username}`, and the `docker/conflicts` lists.
use std::collections::HashMap;

use axum::{
    Json,
    extract::{OriginalUri, Path, RawQuery, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    auth::Actor,
    domain::{
        AccountKind, OwnerName, PackageName,
        packages::{LastVersion, PackageFilter, PackageOrder, PackageRef},
        views::{AccountInfo, PackageInfo, RepositoryInfo, VersionInfo},
    },
    error::{DomainError, What},
    rest::{
        RestActor, RestError, RestResult,
        params::{ListParams, link_header, package_type},
        render::{package_json, version_json},
    },
    state::AppState,
};

/// Whose packages a URL names: the caller's (`/user`), an organization's or a user's.
enum Scope {
    Viewer,
    Organization(String),
    User(String),
}

impl Scope {
    /// Read from the request's path (`/api/v3/user/...`, `/api/v3/orgs/{org}/...`,
    /// `/api/v3/users/{user}/...`), the only routes these handlers serve.
    fn of(uri: &OriginalUri) -> Self {
        let mut segments = uri.path().trim_start_matches('/').split('/').skip(2);
        match (segments.next(), segments.next()) {
            (Some("orgs"), Some(login)) => Self::Organization(login.to_string()),
            (Some("users"), Some(login)) => Self::User(login.to_string()),
            _ => Self::Viewer,
        }
    }

    /// The owner the URL names; an organization under `/users` (or a user under `/orgs`)
    /// is not found, as on GitHub.
    async fn owner(&self, state: &AppState, actor: &Actor) -> Result<AccountInfo, RestError> {
        let (login, kind) = match self {
            Self::Viewer => {
                let id = actor.user_id().ok_or_else(|| {
                    DomainError::Unauthenticated("authentication required".into())
                })?;
                return Ok(state.domain.account_by_id(id).await?);
            }
            Self::Organization(login) => (login, AccountKind::Organization),
            Self::User(login) => (login, AccountKind::User),
        };
        let account = state.domain.find_account(&OwnerName::parse(login)?).await?;
        if account.kind != kind {
            return Err(DomainError::not_found(What::Account, login.clone()).into());
        }
        Ok(account)
    }
}

#[derive(Deserialize)]
pub struct PackagePath {
    package_type: String,
    name: String,
}

#[derive(Deserialize)]
pub struct VersionPath {
    package_type: String,
    name: String,
    version_id: String,
}

/// The package the path names, as the caller may see it, and its owner.
async fn package_of(
    state: &AppState,
    actor: &Actor,
    uri: &OriginalUri,
    path: &PackagePath,
) -> Result<(PackageInfo, AccountInfo), RestError> {
    let package_type = package_type(&path.package_type)?;
    let owner = Scope::of(uri).owner(state, actor).await?;
    let r = PackageRef {
        owner: OwnerName::parse(&owner.login)?,
        package_type,
        name: PackageName::parse(&path.name)?,
    };
    Ok((state.domain.find_package(actor, &r).await?, owner))
}

/// The version with that id, if it belongs to the package the path names.
async fn version_of(
    state: &AppState,
    actor: &Actor,
    uri: &OriginalUri,
    path: VersionPath,
) -> Result<(PackageInfo, AccountInfo, VersionInfo), RestError> {
    let unknown = || DomainError::not_found(What::Version, "package version");
    let id: i64 = path.version_id.parse().map_err(|_| unknown())?;
    let package = PackagePath {
        package_type: path.package_type,
        name: path.name,
    };
    let (p, owner) = package_of(state, actor, uri, &package).await?;
    let v = state.domain.version_by_id(actor, id).await?;
    if v.package_id != p.id {
        return Err(unknown().into());
    }
    Ok((p, owner, v))
}

/// The linked repositories of these packages that `actor` may see, by id.
async fn visible_repositories(
    state: &AppState,
    actor: &Actor,
    packages: &[PackageInfo],
) -> Result<HashMap<i64, RepositoryInfo>, RestError> {
    let ids: Vec<i64> = packages.iter().filter_map(|p| p.repository_id).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let repos = state.domain.repositories_by_ids(&ids).await?;
    Ok(state
        .domain
        .visible_repositories(actor, repos)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect())
}

async fn tags_by_version(
    state: &AppState,
    versions: &[VersionInfo],
) -> Result<HashMap<i64, Vec<String>>, RestError> {
    let tags = state
        .domain
        .tags_of_versions(&versions.iter().map(|v| v.id).collect::<Vec<_>>())
        .await?;
    Ok(tags
        .into_iter()
        .map(|(id, t)| (id, t.into_iter().map(|t| t.name).collect()))
        .collect())
}

/// A page of a list as JSON, with GitHub's `Link` header when there are other pages.
fn paged(
    state: &AppState,
    uri: &OriginalUri,
    raw_query: Option<&str>,
    params: &ListParams,
    total: u64,
    body: Vec<Value>,
) -> Response {
    let mut response = Json(body).into_response();
    if let Some(link) = link_header(
        &state.config.base_url(),
        uri.path(),
        raw_query,
        params,
        total,
    ) {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

/// "List packages for the authenticated user's namespace / an organization / a user".
pub async fn list_packages(
    State(state): State<AppState>,
    actor: RestActor,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
) -> RestResult {
    let params = ListParams::parse(raw.as_deref())?;
    let actor = actor.into_inner();
    let owner = Scope::of(&uri).owner(&state, &actor).await?;
    let filter = PackageFilter {
        owner_id: Some(owner.id),
        package_type: params.package_type,
        visibility: params.visibility,
        ..Default::default()
    };
    let (offset, limit) = params.window();
    let (packages, total) = state
        .domain
        .list_packages(&actor, &filter, PackageOrder::CreatedDesc, offset, limit)
        .await?;
    let counts = state
        .domain
        .version_counts(&packages.iter().map(|p| p.id).collect::<Vec<_>>())
        .await?;
    let base = state.config.base_url();
    let repositories = visible_repositories(&state, &actor, &packages).await?;
    let body = packages
        .iter()
        .map(|p| {
            let count = counts.get(&p.id).copied().unwrap_or(0);
            package_json(&base, p, &owner, count, &repositories)
        })
        .collect();
    Ok(paged(&state, &uri, raw.as_deref(), &params, total, body))
}

/// "Get a package for the authenticated user / an organization / a user".
pub async fn get_package(
    State(state): State<AppState>,
    actor: RestActor,
    uri: OriginalUri,
    Path(path): Path<PackagePath>,
) -> RestResult {
    let actor = actor.into_inner();
    let (p, owner) = package_of(&state, &actor, &uri, &path).await?;
    let count = state
        .domain
        .version_counts(&[p.id])
        .await?
        .get(&p.id)
        .copied()
        .unwrap_or(0);
    let repositories = visible_repositories(&state, &actor, std::slice::from_ref(&p)).await?;
    let base = state.config.base_url();
    Ok(Json(package_json(&base, &p, &owner, count, &repositories)).into_response())
}

/// "Delete a package ...": soft, restorable for 30 days.
pub async fn delete_package(
    State(state): State<AppState>,
    actor: RestActor,
    uri: OriginalUri,
    Path(path): Path<PackagePath>,
) -> RestResult {
    let actor = actor.into_inner();
    let (p, _) = package_of(&state, &actor, &uri, &path).await?;
    state.domain.delete_package(&actor, p.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// "Restore a package ...". GitHub's optional `?token=` (a package token from its UI) is
/// accepted and not needed: the caller's own credential authorizes the restore.
pub async fn restore_package(
    State(state): State<AppState>,
    actor: RestActor,
    uri: OriginalUri,
    Path(path): Path<PackagePath>,
) -> RestResult {
    let actor = actor.into_inner();
    let package_type = package_type(&path.package_type)?;
    let owner = Scope::of(&uri).owner(&state, &actor).await?;
    let r = PackageRef {
        owner: OwnerName::parse(&owner.login)?,
        package_type,
        name: PackageName::parse(&path.name)?,
    };
    state.domain.restore_package_named(&actor, &r).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// "List package versions for a package owned by ...", newest first; `state=deleted`
/// lists the soft-deleted ones (admins only).
pub async fn list_versions(
    State(state): State<AppState>,
    actor: RestActor,
    uri: OriginalUri,
    Path(path): Path<PackagePath>,
    RawQuery(raw): RawQuery,
) -> RestResult {
    let params = ListParams::parse(raw.as_deref())?;
    let actor = actor.into_inner();
    let (p, owner) = package_of(&state, &actor, &uri, &path).await?;
    let (offset, limit) = params.window();
    let (versions, total) = state
        .domain
        .list_versions(&actor, p.id, params.state, offset, limit)
        .await?;
    let tags = tags_by_version(&state, &versions).await?;
    let base = state.config.base_url();
    let body = versions
        .iter()
        .map(|v| {
            let tags = tags.get(&v.id).map(Vec::as_slice).unwrap_or(&[]);
            version_json(&base, &p, owner.kind, v, tags)
        })
        .collect();
    Ok(paged(&state, &uri, raw.as_deref(), &params, total, body))
}

/// "Get a package version for ...".
pub async fn get_version(
    State(state): State<AppState>,
    actor: RestActor,
    uri: OriginalUri,
    Path(path): Path<VersionPath>,
) -> RestResult {
    let actor = actor.into_inner();
    let (p, owner, v) = version_of(&state, &actor, &uri, path).await?;
    let tags = tags_by_version(&state, std::slice::from_ref(&v)).await?;
    let tags = tags.get(&v.id).map(Vec::as_slice).unwrap_or(&[]);
    let base = state.config.base_url();
    Ok(Json(version_json(&base, &p, owner.kind, &v, tags)).into_response())
}

/// "Delete a package version for ...": the last live version is refused (GitHub's rule:
/// delete the package instead).
pub async fn delete_version(
    State(state): State<AppState>,
    actor: RestActor,
    uri: OriginalUri,
    Path(path): Path<VersionPath>,
) -> RestResult {
    let actor = actor.into_inner();
    let (_, _, v) = version_of(&state, &actor, &uri, path).await?;
    state
        .domain
        .delete_version(&actor, v.id, LastVersion::Refuse)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// "Restore a package version for ..." (`?token=` as for a package: accepted, unneeded).
pub async fn restore_version(
    State(state): State<AppState>,
    actor: RestActor,
    uri: OriginalUri,
    Path(path): Path<VersionPath>,
) -> RestResult {
    let actor = actor.into_inner();
    let (_, _, v) = version_of(&state, &actor, &uri, path).await?;
    state.domain.restore_version(&actor, v.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// "Get list of conflicting packages during Docker migration for ...": GitHub's lists of
/// Docker-registry packages that clashed when moving to the Container registry. Nothing
/// here was ever migrated, so the owner's list is empty.
pub async fn list_docker_conflicts(
    State(state): State<AppState>,
    actor: RestActor,
    uri: OriginalUri,
) -> RestResult {
    let actor = actor.into_inner();
    Scope::of(&uri).owner(&state, &actor).await?;
    Ok(Json(Vec::<Value>::new()).into_response())
}
