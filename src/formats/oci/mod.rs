//! The OCI distribution API (`/v2/...`) and the Docker token flow (`/v2/token`), so
//! `docker`, `podman`, `skopeo` and `buildah` push and pull unchanged.
//!
//! Spec: opencontainers/distribution-spec v1.1 (`spec.md`); token flow: the Docker
//! registry token authentication spec.

mod auth;
mod blobs;
mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod manifest;
mod manifests;
mod names;
mod token;

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::{
    auth::Actor,
    domain::{packages::PackageRef, registry::ImageAction},
    state::AppState,
};

use auth::{Caller, caller, unauthorized};
use errors::*;
use manifests::catalog;
use names::{Target, parse_image, parse_target};
use token::{TOKEN_FORM_MAX, token_get, token_post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/", get(base))
        .route("/v2", get(base))
        // The token endpoint is answered before any authentication: its body is small.
        .route(
            "/v2/token",
            get(token_get)
                .post(token_post)
                .layer(DefaultBodyLimit::max(TOKEN_FORM_MAX)),
        )
        .route("/v2/_catalog", get(catalog))
        .route("/v2/{*path}", axum::routing::any(dispatch))
        .layer(DefaultBodyLimit::disable())
}

type OciResult = Result<Response, OciError>;

fn with_api_version(mut response: Response) -> Response {
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

/// `GET /v2/`: 200 for an authenticated caller, else the challenge.
async fn base(State(state): State<AppState>, headers: HeaderMap) -> OciResult {
    caller(&state, &headers, None).await?;
    Ok(with_api_version(Json(json!({})).into_response()))
}

/// Every `/v2/<name>/...` request: names nest (`owner/a/b`), so routing is by suffix.
async fn dispatch(State(state): State<AppState>, request: Request) -> OciResult {
    let path = request.uri().path().trim_start_matches("/v2/").to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let method = request.method().clone();
    let headers = request.headers().clone();
    let body = request.into_body();
    let (name, target) = parse_target(&path)
        .ok_or_else(|| OciError::new(NAME_UNKNOWN, format!("no such endpoint /v2/{path}")))?;
    let action = match (&method, &target) {
        (&Method::GET | &Method::HEAD, _) => ImageAction::Pull,
        // Untagging needs write, as moving a tag does; a digest (`alg:hex`) deletes.
        (&Method::DELETE, Target::Manifest(r)) if !r.contains(':') => ImageAction::Push,
        (&Method::DELETE, Target::Manifest(_) | Target::Blob(_)) => ImageAction::Delete,
        _ => ImageAction::Push,
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let mut scope = match action {
        ImageAction::Push => format!("repository:{name}:pull,push"),
        other => format!("repository:{name}:{other}"),
    };
    // A cross-repository mount reads the source too: the challenge names both scopes, as
    // distribution's does, so the token a client fetches for it can mount.
    if let (&Method::POST, Target::Upload(None), Some(_), Some(from)) =
        (&method, &target, param("mount"), param("from"))
    {
        scope = mount_scope(&scope, &from);
    }
    let who = caller(&state, &headers, Some(&scope)).await?;
    let image = parse_image(&name)?;
    if !who.allows(&name, action) {
        // A signed-in caller whose token wasn't granted pull may not read the image: "not
        // found", as on every door (a missing image answers the same). Anonymous callers
        // get the challenge, so a client can log in.
        if action == ImageAction::Pull && !who.actor.is_anonymous() {
            return Err(OciError::new(
                NAME_UNKNOWN,
                format!("package {name} not found"),
            ));
        }
        // A signed-in caller policy refuses: "denied", so clients don't loop re-fetching a
        // token that can't grant more. (A token merely issued for less than policy allows
        // gets the challenge below, naming the scope to ask for.)
        if !who.actor.is_anonymous() && !state.domain.may(&who.actor, &image, action).await? {
            return Err(OciError::new(
                DENIED,
                format!("you may not {action} {name}"),
            ));
        }
        return Err(unauthorized(
            &state,
            Some(&scope),
            &format!("the token does not grant {action} on {name}"),
        ));
    }
    let ctx = Ctx {
        state: &state,
        who: &who,
        image: &image,
        name: &name,
        headers: &headers,
    };
    let response = match (method, target) {
        (Method::GET, Target::Manifest(r)) => ctx.get_manifest(&r, true).await,
        (Method::HEAD, Target::Manifest(r)) => ctx.get_manifest(&r, false).await,
        (Method::PUT, Target::Manifest(r)) => {
            ctx.put_manifest(
                &r,
                params
                    .iter()
                    .filter(|(k, _)| k == "tag")
                    .map(|(_, v)| v.clone())
                    .collect(),
                body,
            )
            .await
        }
        (Method::DELETE, Target::Manifest(r)) => ctx.delete_manifest(&r).await,
        (Method::GET, Target::Blob(d)) => ctx.get_blob(&d, false).await,
        (Method::HEAD, Target::Blob(d)) => ctx.get_blob(&d, true).await,
        (Method::DELETE, Target::Blob(d)) => ctx.delete_blob(&d).await,
        (Method::POST, Target::Upload(None)) => {
            ctx.start_upload(param("digest"), param("mount"), param("from"), body)
                .await
        }
        (Method::PATCH, Target::Upload(Some(id))) => ctx.patch_upload(&id, body).await,
        (Method::PUT, Target::Upload(Some(id))) => ctx.put_upload(&id, param("digest"), body).await,
        (Method::GET, Target::Upload(Some(id))) => ctx.upload_status(&id).await,
        (Method::DELETE, Target::Upload(Some(id))) => ctx.cancel_upload(&id).await,
        (Method::GET, Target::Tags) => ctx.tags(param("n"), param("last")).await,
        (Method::GET, Target::Referrers(d)) => ctx.referrers(&d, param("artifactType")).await,
        _ => Err(OciError::new(UNSUPPORTED, "method not allowed here")),
    }?;
    Ok(with_api_version(response))
}

/// The scope of a mount's challenge: the target's, and pull on the source (a source
/// that isn't a repository name is left out, and the mount falls back to an upload).
fn mount_scope(target_scope: &str, from: &str) -> String {
    if parse_image(from).is_ok() && !target_scope.contains(' ') {
        format!("{target_scope} repository:{from}:pull")
    } else {
        target_scope.to_string()
    }
}

struct Ctx<'a> {
    state: &'a AppState,
    who: &'a Caller,
    image: &'a PackageRef,
    name: &'a str,
    headers: &'a HeaderMap,
}

fn header(name: &'static str, value: &str) -> (axum::http::HeaderName, HeaderValue) {
    (
        axum::http::HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
    )
}

impl Ctx<'_> {
    fn actor(&self) -> &Actor {
        &self.who.actor
    }
}
