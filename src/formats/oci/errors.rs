//! The distribution spec's registered error codes, as data, and their JSON shape:
//! `{"errors": [{"code", "message", "detail"}]}`.
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::error::{DomainError, What};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub status: u16,
    pub message: &'static str,
}

macro_rules! codes {
    ($($name:ident = ($code:literal, $status:literal, $message:literal);)+) => {
        $(
        #[allow(dead_code, reason = "registered codes; not every one has a use yet (no rate limiting)")]
        pub const $name: Code = Code { code: $code, status: $status, message: $message };
        )+
        /// Every registered code (tests check the table).
        #[cfg(test)]
        pub const ALL: &[Code] = &[$($name),+];
    };
}

codes! {
    BLOB_UNKNOWN = ("BLOB_UNKNOWN", 404, "blob unknown to registry");
    BLOB_UPLOAD_INVALID = ("BLOB_UPLOAD_INVALID", 400, "blob upload invalid");
    BLOB_UPLOAD_UNKNOWN = ("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry");
    DIGEST_INVALID = ("DIGEST_INVALID", 400, "provided digest did not match uploaded content");
    MANIFEST_BLOB_UNKNOWN = ("MANIFEST_BLOB_UNKNOWN", 404, "manifest references a manifest or blob unknown to registry");
    MANIFEST_INVALID = ("MANIFEST_INVALID", 400, "manifest invalid");
    MANIFEST_UNKNOWN = ("MANIFEST_UNKNOWN", 404, "manifest unknown to registry");
    NAME_INVALID = ("NAME_INVALID", 400, "invalid repository name");
    NAME_UNKNOWN = ("NAME_UNKNOWN", 404, "repository name not known to registry");
    SIZE_INVALID = ("SIZE_INVALID", 400, "provided length did not match content length");
    UNAUTHORIZED = ("UNAUTHORIZED", 401, "authentication required");
    DENIED = ("DENIED", 403, "requested access to the resource is denied");
    UNSUPPORTED = ("UNSUPPORTED", 405, "the operation is unsupported");
    TOOMANYREQUESTS = ("TOOMANYREQUESTS", 429, "too many requests");
}

/// Not in the spec's table: what a registry answers for its own failures.
pub const UNKNOWN: Code = Code {
    code: "UNKNOWN",
    status: 500,
    message: "unknown error",
};

/// Not in the spec's table: distribution's answer to a page size (`n`) that isn't a
/// number of results.
pub const PAGINATION_NUMBER_INVALID: Code = Code {
    code: "PAGINATION_NUMBER_INVALID",
    status: 400,
    message: "invalid number of results requested",
};

/// An error as the door renders it.
#[derive(Debug)]
pub struct OciError {
    pub code: Code,
    pub status: u16,
    pub detail: String,
    /// `WWW-Authenticate` for 401s.
    pub challenge: Option<String>,
    /// `Range` for 416s on uploads.
    pub range: Option<String>,
}

impl OciError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            status: code.status,
            detail: detail.into(),
            challenge: None,
            range: None,
        }
    }

    /// Maps a domain error in the context of an operation: what "not found" and "invalid"
    /// mean there.
    pub fn from_domain(err: DomainError, not_found: Code, invalid: Code) -> Self {
        match err {
            DomainError::NotFound {
                what: What::ReferencedBlob,
                message,
            } => Self::new(MANIFEST_BLOB_UNKNOWN, message),
            DomainError::NotFound {
                what: What::Repository | What::Package,
                message,
            } => Self::new(NAME_UNKNOWN, message),
            DomainError::NotFound { message, .. } => Self::new(not_found, message),
            DomainError::InvalidInput(m) => Self::new(invalid, m),
            DomainError::DigestMismatch { expected, actual } => {
                Self::new(DIGEST_INVALID, format!("expected {expected}, got {actual}"))
            }
            DomainError::Unauthenticated(m) => Self::new(UNAUTHORIZED, m),
            DomainError::Forbidden(m) | DomainError::QuotaExceeded(m) => Self::new(DENIED, m),
            DomainError::PayloadTooLarge(m) => Self {
                status: 413,
                ..Self::new(SIZE_INVALID, m)
            },
            DomainError::RangeNotSatisfiable { size } => Self {
                status: 416,
                range: Some(format!("0-{}", size.saturating_sub(1))),
                ..Self::new(BLOB_UPLOAD_INVALID, "chunk out of order")
            },
            DomainError::AlreadyExists { message: m, .. } => Self {
                status: 409,
                ..Self::new(DENIED, m)
            },
            DomainError::Unavailable(m) => Self {
                status: 503,
                ..Self::new(UNKNOWN, m)
            },
            err @ DomainError::InsufficientStorage => Self {
                status: 507,
                ..Self::new(UNKNOWN, err.to_string())
            },
            DomainError::TooManyRequests { message, .. } => Self::new(TOOMANYREQUESTS, message),
            DomainError::Internal(_) => Self::new(UNKNOWN, "internal error"),
        }
    }
}

impl From<DomainError> for OciError {
    fn from(err: DomainError) -> Self {
        Self::from_domain(err, NAME_UNKNOWN, NAME_INVALID)
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"errors": [{"code": self.code.code, "message": self.code.message, "detail": self.detail}]});
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            "docker-distribution-api-version",
            HeaderValue::from_static("registry/2.0"),
        );
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(range) = self.range.and_then(|r| HeaderValue::from_str(&r).ok()) {
            headers.insert(header::RANGE, range);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // The database or blob store is out of reach (`DomainError::Unavailable`).
            let secs = crate::error::UNAVAILABLE_RETRY_AFTER_SECS;
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_spec() {
        assert_eq!(ALL.len(), 14);
        for c in ALL {
            assert!(
                c.code
                    .chars()
                    .all(|ch| ch.is_ascii_uppercase() || ch == '_'),
                "{}",
                c.code
            );
            assert!((400..500).contains(&c.status));
        }
        let e = OciError::from_domain(
            DomainError::RangeNotSatisfiable { size: 10 },
            BLOB_UNKNOWN,
            BLOB_UPLOAD_INVALID,
        );
        assert_eq!((e.status, e.range.as_deref()), (416, Some("0-9")));
        let e = OciError::from_domain(
            DomainError::not_found(What::Manifest, "manifest"),
            MANIFEST_UNKNOWN,
            MANIFEST_INVALID,
        );
        assert_eq!(e.code, MANIFEST_UNKNOWN);
        let e = OciError::from_domain(
            DomainError::not_found(What::ReferencedBlob, "manifest references unknown blob"),
            MANIFEST_UNKNOWN,
            MANIFEST_INVALID,
        );
        assert_eq!(e.code, MANIFEST_BLOB_UNKNOWN);
        let e = OciError::from_domain(
            DomainError::not_found(What::Package, "package a/b"),
            MANIFEST_UNKNOWN,
            MANIFEST_INVALID,
        );
        assert_eq!(e.code, NAME_UNKNOWN);
    }
}
