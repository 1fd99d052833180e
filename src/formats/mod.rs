//! Package-format doors. Each parses its wire requests into domain types (validating names
//! before any I/O), gets the actor from `auth`, calls one domain method and renders the
//! answer and errors in its client's shape. Doors never touch `entity` or `storage`;
//! nothing calls into a door.

pub mod generic;
pub mod kit;
pub mod maven;
pub mod npm;
pub mod nuget;
pub mod oci;
pub mod rubygems;

use axum::{Router, middleware};

use crate::{server::body_limit::streamed_upload, state::AppState};

pub fn routes() -> Router<AppState> {
    // Generic files and OCI blobs stream in and are bounded by their own limits; the rest
    // of those doors' bodies are bounded by their own extractors (the token form, manifests).
    // npm marks its publish routes itself.
    Router::new()
        .merge(generic::routes().layer(middleware::from_fn(streamed_upload)))
        .merge(npm::routes())
        .merge(nuget::routes())
        .merge(maven::routes().layer(middleware::from_fn(streamed_upload)))
        .merge(oci::routes().layer(middleware::from_fn(streamed_upload)))
        .merge(rubygems::routes())
}
