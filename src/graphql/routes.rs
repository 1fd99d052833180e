//! HTTP endpoints of the GraphQL API.
use axum::{Router, routing::get};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/graphql", get(|| async { "todo" }))
}
