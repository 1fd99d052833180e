//! Errors as HTML pages. Every error page has a body: browsers (and Chromium's
//! `page.goto`) treat an empty 404 as a network failure. A private package and a missing
//! one are the same 404 page.
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::html;

use crate::{error::DomainError, web::layout};

#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "There is nothing here, or you may not see it.",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "This form has expired or didn't come from this site (missing or wrong CSRF token). Reload the page and try again.",
        )
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "web UI");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// A GraphQL error's `extensions.code` (from `DomainError::code`) and message.
    pub fn from_code(code: &str, message: &str) -> Self {
        let status = match code {
            "NOT_FOUND" => StatusCode::NOT_FOUND,
            "CONFLICT" => StatusCode::CONFLICT,
            "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
            "FORBIDDEN" | "QUOTA_EXCEEDED" => StatusCode::FORBIDDEN,
            "BAD_USER_INPUT" | "DIGEST_MISMATCH" => StatusCode::BAD_REQUEST,
            "TOO_MANY_REQUESTS" => StatusCode::TOO_MANY_REQUESTS,
            "PAYLOAD_TOO_LARGE" => StatusCode::PAYLOAD_TOO_LARGE,
            "UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
            "INSUFFICIENT_STORAGE" => StatusCode::INSUFFICIENT_STORAGE,
            // Validation errors of the document itself are ours, not the visitor's.
            _ => return Self::internal(format!("graphql error {code}: {message}")),
        };
        if status == StatusCode::NOT_FOUND {
            return Self::not_found();
        }
        Self::new(status, message)
    }
}

impl From<DomainError> for WebError {
    fn from(err: DomainError) -> Self {
        let retry_after = err.retry_after_secs();
        let mut web = match &err {
            DomainError::Internal(_) => Self::internal(&err),
            DomainError::NotFound { .. } => Self::not_found(),
            other => Self::from_code(other.code(), &other.to_string()),
        };
        web.retry_after = retry_after;
        web
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let title = self
            .status
            .canonical_reason()
            .unwrap_or("Error")
            .to_string();
        let body = layout::bare(
            &title,
            html! {
                h1 { (self.status.as_u16()) " " (title) }
                p.error-message { (self.message) }
                p { a href="/" { "Explore packages" } " · " a href="/-/signin" { "Sign in" } }
            },
        );
        let mut response = (self.status, body).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
