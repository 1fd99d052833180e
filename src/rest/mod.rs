//! GitHub-compatible REST for packages (`/api/v3/...`), so existing scripts and octokit
//! work. A door like the formats: parse, one domain call (plus the lookups that turn
//! names into ids), render GitHub's JSON shapes with lower-case enums.
//!
//! Layer rule: nothing calls `rest`; `rest` calls `domain` (never entity or storage).
//! `params` validates the query string before any I/O, `render` owns GitHub's JSON
//! shapes, `packages` the handlers of GitHub's REST API "Packages" (27 endpoints: eight
//! for each of `/user`, `/orgs/{org}` and `/users/{username}`, and the three
//! `docker/conflicts` lists).
mod packages;
mod params;
mod render;

use axum::{
    Json, Router,
    extract::Request,
    http::{HeaderName, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use serde_json::json;

use crate::{
    auth::CurrentActor,
    error::DomainError,
    formats::kit::errors::{Door, DoorError},
    state::AppState,
};

const DOCS: &str = "https://docs.github.com/rest/packages/packages";
const VERSIONS_DOCS: &str = "https://docs.github.com/rest/about-the-rest-api/api-versions";

/// The REST API versions we answer, as GitHub names them; a request without
/// `X-GitHub-Api-Version` gets the first, as on GitHub.
const API_VERSIONS: &[&str] = &["2022-11-28"];
const API_VERSION: HeaderName = HeaderName::from_static("x-github-api-version");
const API_VERSION_SELECTED: HeaderName = HeaderName::from_static("x-github-api-version-selected");

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for prefix in [
        "/api/v3/user",
        "/api/v3/orgs/{owner}",
        "/api/v3/users/{owner}",
    ] {
        router = router
            .route(&format!("{prefix}/packages"), get(packages::list_packages))
            .route(
                &format!("{prefix}/packages/{{package_type}}/{{name}}"),
                get(packages::get_package).delete(packages::delete_package),
            )
            .route(
                &format!("{prefix}/packages/{{package_type}}/{{name}}/restore"),
                post(packages::restore_package),
            )
            .route(
                &format!("{prefix}/packages/{{package_type}}/{{name}}/versions"),
                get(packages::list_versions),
            )
            .route(
                &format!("{prefix}/packages/{{package_type}}/{{name}}/versions/{{version_id}}"),
                get(packages::get_version).delete(packages::delete_version),
            )
            .route(
                &format!(
                    "{prefix}/packages/{{package_type}}/{{name}}/versions/{{version_id}}/restore"
                ),
                post(packages::restore_version),
            )
            .route(
                &format!("{prefix}/docker/conflicts"),
                get(packages::list_docker_conflicts),
            );
    }
    router
        .route("/api/v3", any(not_found))
        .route("/api/v3/{*rest}", any(not_found))
        .layer(middleware::from_fn(api_version))
}

/// GitHub REST "API versions": a request names its version in `X-GitHub-Api-Version`;
/// one we don't answer is refused with a 400, as GitHub refuses an unsupported one.
async fn api_version(request: Request, next: Next) -> Response {
    let selected = match request.headers().get(API_VERSION) {
        None => API_VERSIONS[0],
        Some(asked) => match API_VERSIONS
            .iter()
            .find(|v| asked.as_bytes() == v.as_bytes())
        {
            Some(v) => v,
            None => {
                let asked = String::from_utf8_lossy(asked.as_bytes());
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({
                        "message": format!("API version {asked:?} is not supported (supported: {}).", API_VERSIONS.join(", ")),
                        "documentation_url": VERSIONS_DOCS,
                    })),
                )
                    .into_response();
            }
        },
    };
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(API_VERSION_SELECTED, HeaderValue::from_static(selected));
    response
}

/// Paths under `/api/v3` that aren't an endpoint answer GitHub's 404 body.
async fn not_found() -> Response {
    RestError::from(DomainError::not_found(
        crate::error::What::Package,
        "endpoint",
    ))
    .into_response()
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

/// What a REST handler fails with: a domain error in GitHub's shape, or a parameter
/// GitHub's validation would refuse (422 "Invalid request").
#[derive(Debug)]
pub enum RestError {
    Domain(DoorError<RestDoor>),
    Unprocessable(String),
}

impl From<DomainError> for RestError {
    fn from(err: DomainError) -> Self {
        Self::Domain(DoorError::new(err))
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        match self {
            Self::Domain(err) => err.into_response(),
            Self::Unprocessable(detail) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "message": format!("Invalid request.\n\n{detail}"),
                    "documentation_url": DOCS,
                })),
            )
                .into_response(),
        }
    }
}

type RestActor = CurrentActor<RestError>;
type RestResult = Result<Response, RestError>;
