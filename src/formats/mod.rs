//! Package-format doors. Each parses its wire requests into domain types (validating names
//! before any I/O), gets the actor from `auth`, calls one domain method and renders the
//! answer and errors in its client's shape. Doors never touch `entity` or `storage`;
//! nothing calls into a door.

pub mod generic;
pub mod http;
pub mod npm;
pub mod oci;

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(generic::routes())
        .merge(npm::routes())
        .merge(oci::routes())
}
