//! Operations endpoints: liveness, readiness and metrics.
use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// The database answers and the blob store answers and takes writes.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.domain.ready().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        // What failed, without internals (those are logged).
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": e.to_string()})),
        ),
    }
}

/// Prometheus text metrics.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let usage = state.domain.usage_metrics().await.unwrap_or_default();
    let body = format!(
        "# HELP packyard_sql_statements_total SQL statements executed.\n# TYPE packyard_sql_statements_total counter\npackyard_sql_statements_total {}\n\
         # HELP packyard_password_verifications_total Password hashes verified (argon2).\n# TYPE packyard_password_verifications_total counter\npackyard_password_verifications_total {}\n\
         # HELP packyard_logins_throttled_total Password logins refused by the failure throttle.\n# TYPE packyard_logins_throttled_total counter\npackyard_logins_throttled_total {}\n\
         # HELP packyard_sendfile_bytes_total File bytes the kernel sent from disk (sendfile), never copied through memory.\n# TYPE packyard_sendfile_bytes_total counter\npackyard_sendfile_bytes_total {}\n",
        state.domain.sql_statements_of_requests(),
        state.domain.password_verifications(),
        state.domain.logins_throttled(),
        crate::storage::zero_copy::sendfile_bytes(),
    ) + &usage;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}
