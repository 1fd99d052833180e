//! GitHub-compatible REST for packages (`/api/v3/...`), so existing scripts and octokit
//! work. A door like the formats: parse, one domain call (plus the lookups that turn
//! names into ids), render GitHub's JSON shapes with lower-case enums.
//!
//! GitHub REST API: "Packages" (list, get, delete, restore packages and versions).
use std::collections::HashMap;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    auth::{Actor, CurrentActor},
    domain::{
        AccountKind, OwnerName, PackageName, PackageType, State as LiveState, Visibility,
        packages::{PackageFilter, PackageOrder, PackageRef},
        views::{AccountInfo, PackageInfo, RepositoryInfo, VersionInfo},
    },
    error::{DomainError, What},
    formats::kit::errors::{Door, DoorError},
    state::AppState,
};

const DOCS: &str = "https://docs.github.com/rest/packages/packages";
const MAX_PER_PAGE: u64 = 100;
const MAX_WINDOW: u64 = 10_000;

pub fn routes() -> Router<AppState> {
    let scoped = |prefix: &str| {
        Router::new()
            .route(&format!("{prefix}/packages"), get(list_packages))
            .route(
                &format!("{prefix}/packages/{{package_type}}/{{name}}"),
                get(get_package).delete(delete_package),
            )
            .route(
                &format!("{prefix}/packages/{{package_type}}/{{name}}/restore"),
                post(restore_package),
            )
            .route(
                &format!("{prefix}/packages/{{package_type}}/{{name}}/versions"),
                get(list_versions),
            )
            .route(
                &format!("{prefix}/packages/{{package_type}}/{{name}}/versions/{{version_id}}"),
                get(get_version).delete(delete_version),
            )
            .route(
                &format!(
                    "{prefix}/packages/{{package_type}}/{{name}}/versions/{{version_id}}/restore"
                ),
                post(restore_version),
            )
    };
    Router::new()
        .nest("/api/v3/orgs/{owner}", scoped(""))
        .nest("/api/v3/users/{owner}", scoped(""))
        .nest("/api/v3/user", scoped(""))
}

/// GitHub's error shape: `{"message", "documentation_url"}`, with GitHub's fixed texts for
/// a 404 and a 401, and no challenge (GitHub sends none; octokit doesn't need one).
pub struct RestDoor;

impl Door for RestDoor {
    const CHALLENGE: Option<&'static str> = None;

    fn body(err: &DomainError) -> Response {
        let message = match err {
            DomainError::NotFound { .. } => "Not Found".to_string(),
            DomainError::Unauthenticated(_) => "Requires authentication".to_string(),
            other => other.to_string(),
        };
        Json(json!({"message": message, "documentation_url": DOCS})).into_response()
    }
}

pub type RestError = DoorError<RestDoor>;

type RestActor = CurrentActor<RestError>;
type RestResult = Result<Response, RestError>;

/// The owner segment of the URL: `orgs/{org}`, `users/{user}` or the authenticated `user`.
#[derive(Deserialize)]
struct OwnerPath {
    owner: Option<String>,
}

#[derive(Deserialize)]
struct PackagePath {
    owner: Option<String>,
    package_type: String,
    name: String,
}

#[derive(Deserialize)]
struct VersionPath {
    owner: Option<String>,
    package_type: String,
    name: String,
    version_id: i64,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    package_type: Option<String>,
    visibility: Option<String>,
    state: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

fn page(q: &ListQuery) -> Result<(u64, u64), RestError> {
    let per_page = q.per_page.unwrap_or(30).clamp(1, MAX_PER_PAGE);
    let page = q.page.unwrap_or(1).max(1);
    if page
        .checked_mul(per_page)
        .is_none_or(|end| end > MAX_WINDOW)
    {
        return Err(
            DomainError::invalid(format!("page × per_page may be at most {MAX_WINDOW}")).into(),
        );
    }
    Ok(((page - 1) * per_page, per_page))
}

/// GitHub calls container images `container` (and legacy `docker`).
fn package_type(s: &str) -> Result<PackageType, RestError> {
    match s {
        "docker" => Ok(PackageType::Container),
        other => Ok(other.parse()?),
    }
}

async fn owner_login(
    state: &AppState,
    actor: &Actor,
    owner: Option<String>,
) -> Result<OwnerName, RestError> {
    match owner {
        Some(login) => Ok(OwnerName::parse(&login)?),
        None => {
            let id = actor
                .user_id()
                .ok_or_else(|| DomainError::Unauthenticated("authentication required".into()))?;
            Ok(OwnerName::parse(
                &state.domain.account_by_id(id).await?.login,
            )?)
        }
    }
}

async fn package_ref(
    state: &AppState,
    actor: &Actor,
    p: &PackagePath,
) -> Result<PackageRef, RestError> {
    Ok(PackageRef {
        owner: owner_login(state, actor, p.owner.clone()).await?,
        package_type: package_type(&p.package_type)?,
        name: PackageName::parse(&p.name)?,
    })
}

fn owner_json(a: &AccountInfo) -> Value {
    json!({
        "login": a.login,
        "id": a.id,
        "type": match a.kind { AccountKind::User => "User", AccountKind::Organization => "Organization" },
        "site_admin": a.site_admin,
    })
}

/// GitHub's `repository` object of a package, when it is linked to one the caller sees.
fn repository_json(base: &str, r: &RepositoryInfo) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "full_name": format!("{}/{}", r.owner_login, r.name),
        "private": r.visibility != crate::domain::Visibility::Public,
        "visibility": r.visibility.as_str(),
        "description": r.description,
        "html_url": format!("{base}/{}/{}", r.owner_login, r.name),
    })
}

/// The linked repositories of these packages that `actor` may see, by id.
async fn visible_repositories(
    state: &AppState,
    actor: &Actor,
    packages: &[PackageInfo],
) -> Result<HashMap<i64, RepositoryInfo>, RestError> {
    let ids: Vec<i64> = packages.iter().filter_map(|p| p.repository_id).collect();
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let repos = state.domain.repositories_by_ids(&ids).await?;
    for repo in state.domain.visible_repositories(actor, repos).await? {
        out.insert(repo.id, repo);
    }
    Ok(out)
}

fn scope_of(kind: Option<AccountKind>) -> &'static str {
    match kind {
        Some(AccountKind::Organization) => "orgs",
        _ => "users",
    }
}

fn package_json(
    base: &str,
    p: &PackageInfo,
    owner: Option<&AccountInfo>,
    version_count: i64,
    repositories: &HashMap<i64, RepositoryInfo>,
) -> Value {
    let scope = scope_of(owner.map(|o| o.kind));
    let mut out = json!({
        "id": p.id,
        "name": p.name,
        "package_type": p.package_type.as_str(),
        "owner": owner.map(owner_json),
        "version_count": version_count,
        "visibility": p.visibility.as_str(),
        "url": format!("{base}/api/v3/{scope}/{}/packages/{}/{}", p.owner_login, p.package_type, p.name),
        "html_url": format!("{base}/{}/packages/{}/{}", p.owner_login, p.package_type, p.name),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "deleted_at": p.deleted_at,
    });
    if let Some(repo) = p.repository_id.and_then(|id| repositories.get(&id)) {
        out["repository"] = repository_json(base, repo);
    }
    out
}

fn version_json(
    base: &str,
    p: &PackageInfo,
    owner_kind: AccountKind,
    v: &VersionInfo,
    tags: &[String],
) -> Value {
    let package_url = format!(
        "{base}/api/v3/{}/{}/packages/{}/{}",
        scope_of(Some(owner_kind)),
        p.owner_login,
        p.package_type,
        p.name
    );
    let mut metadata = json!({"package_type": p.package_type.as_str()});
    if p.package_type == PackageType::Container {
        metadata["container"] = json!({"tags": tags});
    }
    json!({
        "id": v.id,
        "name": v.version,
        "url": format!("{package_url}/versions/{}", v.id),
        "package_html_url": format!("{base}/{}/packages/{}/{}", p.owner_login, p.package_type, p.name),
        "html_url": format!("{base}/{}/packages/{}/{}/{}", p.owner_login, p.package_type, p.name, v.version),
        "license": v.license,
        "description": v.summary,
        "created_at": v.created_at,
        "updated_at": v.updated_at,
        "deleted_at": v.deleted_at,
        "metadata": metadata,
    })
}

async fn list_packages(
    State(state): State<AppState>,
    actor: RestActor,
    Path(path): Path<OwnerPath>,
    Query(q): Query<ListQuery>,
) -> RestResult {
    let actor = actor.into_inner();
    let (offset, limit) = page(&q)?;
    let login = owner_login(&state, &actor, path.owner).await?;
    let owner = state.domain.find_account(&login).await?;
    let filter = PackageFilter {
        owner_id: Some(owner.id),
        package_type: q.package_type.as_deref().map(package_type).transpose()?,
        visibility: q
            .visibility
            .as_deref()
            .map(str::parse::<Visibility>)
            .transpose()?,
        ..Default::default()
    };
    let (packages, _) = state
        .domain
        .list_packages(&actor, &filter, PackageOrder::CreatedDesc, offset, limit)
        .await?;
    let counts = state
        .domain
        .version_counts(&packages.iter().map(|p| p.id).collect::<Vec<_>>())
        .await?;
    let base = state.config.base_url();
    let repositories = visible_repositories(&state, &actor, &packages).await?;
    let body: Vec<Value> = packages
        .iter()
        .map(|p| {
            package_json(
                &base,
                p,
                Some(&owner),
                counts.get(&p.id).copied().unwrap_or(0),
                &repositories,
            )
        })
        .collect();
    Ok(Json(body).into_response())
}

async fn get_package(
    State(state): State<AppState>,
    actor: RestActor,
    Path(path): Path<PackagePath>,
) -> RestResult {
    let actor = actor.into_inner();
    let r = package_ref(&state, &actor, &path).await?;
    let p = state.domain.find_package(&actor, &r).await?;
    let owner = state.domain.account_by_id(p.owner_id).await?;
    let count = state
        .domain
        .version_counts(&[p.id])
        .await?
        .get(&p.id)
        .copied()
        .unwrap_or(0);
    let repositories = visible_repositories(&state, &actor, std::slice::from_ref(&p)).await?;
    Ok(Json(package_json(
        &state.config.base_url(),
        &p,
        Some(&owner),
        count,
        &repositories,
    ))
    .into_response())
}

async fn delete_package(
    State(state): State<AppState>,
    actor: RestActor,
    Path(path): Path<PackagePath>,
) -> RestResult {
    let actor = actor.into_inner();
    let r = package_ref(&state, &actor, &path).await?;
    let p = state.domain.find_package(&actor, &r).await?;
    state.domain.delete_package(&actor, p.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn restore_package(
    State(state): State<AppState>,
    actor: RestActor,
    Path(path): Path<PackagePath>,
) -> RestResult {
    let actor = actor.into_inner();
    let r = package_ref(&state, &actor, &path).await?;
    state.domain.restore_package_named(&actor, &r).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_versions(
    State(state): State<AppState>,
    actor: RestActor,
    Path(path): Path<PackagePath>,
    Query(q): Query<ListQuery>,
) -> RestResult {
    let actor = actor.into_inner();
    let (offset, limit) = page(&q)?;
    let state_filter = match q.state.as_deref() {
        None | Some("active") => LiveState::Active,
        Some("deleted") => LiveState::Deleted,
        Some(other) => {
            return Err(
                DomainError::invalid(format!("unknown state {other:?} (active, deleted)")).into(),
            );
        }
    };
    let r = package_ref(&state, &actor, &path).await?;
    let p = state.domain.find_package(&actor, &r).await?;
    let (versions, _) = state
        .domain
        .list_versions(&actor, p.id, state_filter, offset, limit)
        .await?;
    let tags = tags_by_version(&state, &versions).await?;
    let base = state.config.base_url();
    let owner_kind = state.domain.account_by_id(p.owner_id).await?.kind;
    let body: Vec<Value> = versions
        .iter()
        .map(|v| {
            version_json(
                &base,
                &p,
                owner_kind,
                v,
                tags.get(&v.id).map(Vec::as_slice).unwrap_or(&[]),
            )
        })
        .collect();
    Ok(Json(body).into_response())
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

/// The version with that id, if it belongs to the package the path names.
async fn version_of(
    state: &AppState,
    actor: &Actor,
    path: &VersionPath,
) -> Result<(PackageInfo, VersionInfo), RestError> {
    let package_path = PackagePath {
        owner: path.owner.clone(),
        package_type: path.package_type.clone(),
        name: path.name.clone(),
    };
    let r = package_ref(state, actor, &package_path).await?;
    let p = state.domain.find_package(actor, &r).await?;
    let v = state.domain.version_by_id(actor, path.version_id).await?;
    if v.package_id != p.id {
        return Err(DomainError::not_found(What::Version, "package version").into());
    }
    Ok((p, v))
}

async fn get_version(
    State(state): State<AppState>,
    actor: RestActor,
    Path(path): Path<VersionPath>,
) -> RestResult {
    let actor = actor.into_inner();
    let (p, v) = version_of(&state, &actor, &path).await?;
    let tags = tags_by_version(&state, std::slice::from_ref(&v)).await?;
    let owner_kind = state.domain.account_by_id(p.owner_id).await?.kind;
    Ok(Json(version_json(
        &state.config.base_url(),
        &p,
        owner_kind,
        &v,
        tags.get(&v.id).map(Vec::as_slice).unwrap_or(&[]),
    ))
    .into_response())
}

async fn delete_version(
    State(state): State<AppState>,
    actor: RestActor,
    Path(path): Path<VersionPath>,
) -> RestResult {
    let actor = actor.into_inner();
    let (_, v) = version_of(&state, &actor, &path).await?;
    state
        .domain
        .delete_version(&actor, v.id, crate::domain::packages::LastVersion::Refuse)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn restore_version(
    State(state): State<AppState>,
    actor: RestActor,
    Path(path): Path<VersionPath>,
) -> RestResult {
    let actor = actor.into_inner();
    let (_, v) = version_of(&state, &actor, &path).await?;
    state.domain.restore_version(&actor, v.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
