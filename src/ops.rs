//! Operations endpoints: liveness and readiness.
use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// The database and the blob store answer.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.domain.ready().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable"}))),
    }
}
