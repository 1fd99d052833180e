//! The npm registry (`/npm/...`), as GitHub Packages serves it: scoped packages only,
//! `@OWNER/NAME` owned by the Packyard user or organization OWNER.
//!
//! Client setup: `@OWNER:registry=http://HOST/npm/` and `//HOST/npm/:_authToken=TOKEN`.
//! Protocol: the npm registry API (packuments, publish document, dist-tags, `-rev` flows).

mod auth;
mod document;
mod errors;
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
    routing::{delete, get, put},
};

use crate::{auth::CurrentActor, server::body_limit::streamed_upload, state::AppState};

use auth::{list_tokens, login, logout, revoke_token, whoami};
pub use errors::NpmError;
use publish::{publish, publish_encoded};
use reads::{
    list_dist_tags, list_dist_tags_encoded, packument, packument_encoded, ping, search, tarball,
    tarball_encoded,
};
use update::{
    delete_dist_tag, delete_dist_tag_encoded, delete_tarball, delete_tarball_encoded,
    delete_tarball_prefixed, set_dist_tag, set_dist_tag_encoded, unpublish_package,
    unpublish_package_encoded, update, update_encoded,
};

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
        .route("/npm/-/package/{a}/dist-tags", get(list_dist_tags_encoded))
        .route(
            "/npm/-/package/{a}/dist-tags/{tag}",
            put(set_dist_tag_encoded).delete(delete_dist_tag_encoded),
        )
        .route("/npm/-/package/{a}/{b}/dist-tags", get(list_dist_tags))
        .route(
            "/npm/-/package/{a}/{b}/dist-tags/{tag}",
            put(set_dist_tag).delete(delete_dist_tag),
        )
        // Publish documents carry tarballs: they stream past the server's body cap and
        // are bounded by `DOCUMENT_MAX` and the tarball limit instead.
        .route(
            "/npm/{a}",
            get(packument_encoded)
                .put(publish_encoded)
                .layer(middleware::from_fn(streamed_upload)),
        )
        .route(
            "/npm/{a}/{b}",
            get(packument)
                .put(publish)
                .layer(middleware::from_fn(streamed_upload)),
        )
        .route(
            "/npm/{a}/-rev/{rev}",
            put(update_encoded)
                .delete(unpublish_package_encoded)
                .layer(middleware::from_fn(streamed_upload)),
        )
        .route(
            "/npm/{a}/{b}/-rev/{rev}",
            put(update)
                .delete(unpublish_package)
                .layer(middleware::from_fn(streamed_upload)),
        )
        .route("/npm/{a}/-/{file}", get(tarball_encoded))
        .route("/npm/{a}/{b}/-/{file}", get(tarball))
        .route(
            "/npm/{a}/-/{file}/-rev/{rev}",
            delete(delete_tarball_encoded),
        )
        .route("/npm/{a}/{b}/-/{file}/-rev/{rev}", delete(delete_tarball))
        // npm deletes a tarball by the path of its URL under the registry URL, which repeats
        // our `/npm` prefix: `/npm/npm/@scope/name/-/name-1.0.0.tgz/-rev/REV`.
        .route(
            "/npm/{a}/{b}/{c}/-/{file}/-rev/{rev}",
            delete(delete_tarball_prefixed),
        )
        // The bodies read whole (login, a dist-tag's version) are small; publish documents
        // stream past this limit (a raw `Body` isn't limited) under their own bounds.
        .layer(DefaultBodyLimit::max(SMALL_BODY_MAX))
}

type NpmActor = CurrentActor<NpmError>;

type NpmResult = Result<Response, NpmError>;
