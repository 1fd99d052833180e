//! npm's error shape: `{"error": "..."}`, the Bearer challenge on 401 (npm sends its
//! `_authToken` as a Bearer token), and CouchDB's 409s for document revisions.
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    error::DomainError,
    formats::kit::errors::{Door, DoorError, json_message},
};

pub struct NpmDoor;

impl Door for NpmDoor {
    const CHALLENGE: Option<&'static str> = Some("Bearer realm=\"packyard\"");

    fn body(err: &DomainError) -> Response {
        let message = match err {
            // npm prints this text for E409/E403 on a republish: the wording its users know.
            DomainError::AlreadyExists { message: m, .. } => {
                format!("cannot publish over the previously published versions: {m}")
            }
            other => other.to_string(),
        };
        json_message("error", message)
    }
}

/// An npm door error: a domain error in npm's shape, or one of the document-revision
/// conflicts only npm's CouchDB-style updates have.
#[derive(Debug)]
pub enum NpmError {
    Domain(DoorError<NpmDoor>),
    /// An update written against a document revision that is no longer current (CouchDB's
    /// 409 "Document update conflict", which npm reports as E409).
    StaleRevision {
        sent: String,
        current: String,
    },
    /// An update that names no revision: CouchDB answers 409 for a write to an existing
    /// document without its `_rev`.
    MissingRevision,
}

impl From<DomainError> for NpmError {
    fn from(e: DomainError) -> Self {
        Self::Domain(e.into())
    }
}

impl IntoResponse for NpmError {
    fn into_response(self) -> Response {
        let message = match self {
            Self::Domain(e) => return e.into_response(),
            Self::StaleRevision { sent, current } => format!(
                "Document update conflict: revision {sent} is not the current {current}; \
                 fetch the package again and retry"
            ),
            Self::MissingRevision => "Document update conflict: an update must carry the \
                                      document's current _rev; fetch the package and retry"
                .to_string(),
        };
        (StatusCode::CONFLICT, Json(json!({"error": message}))).into_response()
    }
}
