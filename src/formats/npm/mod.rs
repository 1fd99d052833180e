//! The npm registry (`/npm/...`), as GitHub Packages serves it: scoped packages only,
//! `@OWNER/NAME` owned by the Packyard user or organization OWNER.
//!
//! Client setup: `@OWNER:registry=http://HOST/npm/` and `//HOST/npm/:_authToken=TOKEN`.
//! Protocol: the npm registry API (packuments, publish document, dist-tags, `-rev` flows).

mod auth;
mod document;
mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod packument;
mod paths;
mod publish;
mod reads;
mod tarball;
mod update;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    response::Response,
    routing::{MethodRouter, delete, get, put},
};

use crate::{auth::CurrentActor, server::body_limit::streamed_upload, state::AppState};

use auth::{list_tokens, login, logout, revoke_token, whoami};
pub use errors::NpmError;
use publish::publish;
use reads::{list_dist_tags, packument, ping, search, tarball};
use update::{delete_dist_tag, delete_tarball, set_dist_tag, unpublish_package, update};

/// Largest publish document without its tarball (manifest, README).
const DOCUMENT_MAX: usize = 16 * 1024 * 1024;

/// Largest body read whole: a login, the version a dist-tag is set to.
const SMALL_BODY_MAX: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/npm/-/ping", get(ping))
        .route("/npm/-/whoami", get(whoami))
        .route("/npm/-/v1/search", get(search))
        .route("/npm/-/user/{user}", put(login))
        .route("/npm/-/user/token/{token}", delete(logout))
        .route("/npm/-/npm/v1/tokens", get(list_tokens))
        .route("/npm/-/npm/v1/tokens/token/{key}", delete(revoke_token))
        .merge(scoped(
            "/npm/-/package/{pkg}/dist-tags",
            get(list_dist_tags),
        ))
        .merge(scoped(
            "/npm/-/package/{pkg}/dist-tags/{tag}",
            put(set_dist_tag).delete(delete_dist_tag),
        ))
        // Publish documents carry tarballs: they stream past the server's body cap and
        // are bounded by `DOCUMENT_MAX` and the tarball limit instead.
        .merge(scoped(
            "/npm/{pkg}",
            get(packument)
                .put(publish)
                .layer(middleware::from_fn(streamed_upload)),
        ))
        .merge(scoped(
            "/npm/{pkg}/-rev/{rev}",
            put(update)
                .delete(unpublish_package)
                .layer(middleware::from_fn(streamed_upload)),
        ))
        .merge(scoped("/npm/{pkg}/-/{file}", get(tarball)))
        .merge(scoped(
            "/npm/{pkg}/-/{file}/-rev/{rev}",
            delete(delete_tarball),
        ))
        // npm deletes a tarball by the path of its URL under the registry URL, which repeats
        // our `/npm` prefix (`NpmTarball` checks it): `/npm/npm/@scope/name/-/...`.
        .route(
            "/npm/{a}/{b}/{c}/-/{file}/-rev/{rev}",
            delete(delete_tarball),
        )
        // The bodies read whole (login, a dist-tag's version) are small; publish documents
        // stream past this limit (a raw `Body` isn't limited) under their own bounds.
        .layer(DefaultBodyLimit::max(SMALL_BODY_MAX))
}

/// Registers `path` (written with `{pkg}`) for both spellings of a scoped name: `{a}`
/// (`@scope%2fname`, one segment) and `{a}/{b}` (`@scope/name`); `paths::NpmPackage`
/// reads either. (Rewriting `%2F` before routing instead would change what `..` segments
/// mean.)
fn scoped(path: &str, route: MethodRouter<AppState>) -> Router<AppState> {
    Router::new()
        .route(&path.replace("{pkg}", "{a}"), route.clone())
        .route(&path.replace("{pkg}", "{a}/{b}"), route)
}

type NpmActor = CurrentActor<NpmError>;

type NpmResult = Result<Response, NpmError>;
