//! RubyGems' error shape: plain text, which `gem` and `bundle` print as they get it, and a
//! `Basic` challenge on 401 (bundler and gem send credentials only after one when the
//! source URL holds none).
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::{
    error::DomainError,
    formats::kit::errors::{Door, DoorError, default_status},
};

pub struct RubygemsDoor;

impl Door for RubygemsDoor {
    const CHALLENGE: Option<&'static str> = Some("Basic realm=\"packyard\"");

    fn body(err: &DomainError) -> Response {
        let text = match err {
            // `gem push` starts an interactive sign-in when a 403 begins "The API key
            // doesn't have access"; ours never does.
            DomainError::Forbidden(m) => format!("Forbidden: {m}"),
            DomainError::AlreadyExists { message, .. } => {
                format!("Repushing of gem versions is not allowed: {message}")
            }
            other => other.to_string(),
        };
        (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            format!("{text}\n"),
        )
            .into_response()
    }

    fn status(err: &DomainError) -> StatusCode {
        match err {
            // A gem whose checksums don't match its entries is a bad upload.
            DomainError::DigestMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            other => default_status(other),
        }
    }
}

pub type RubygemsError = DoorError<RubygemsDoor>;
