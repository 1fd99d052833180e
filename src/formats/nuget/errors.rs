//! NuGet's errors: the status with the message as the HTTP reason phrase too (NuGet prints
//! the reason phrase, `409 (Conflict - ...)` as nuget.org words it), the message as the
//! body, and the Basic challenge on 401 (NuGet sends nuget.config credentials only after
//! one).
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::{
    error::{DomainError, What},
    formats::kit::errors::{Door, DoorError, default_status},
};

pub struct NugetDoor;

/// A NuGet door error.
pub type NugetError = DoorError<NugetDoor>;

impl Door for NugetDoor {
    const CHALLENGE: Option<&'static str> = Some("Basic realm=\"Packyard\"");

    fn body(err: &DomainError) -> Response {
        let message = message(err);
        let mut response = message.clone().into_response();
        if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason_phrase(err, &message)) {
            response.extensions_mut().insert(reason);
        }
        response
    }

    fn status(err: &DomainError) -> StatusCode {
        default_status(err)
    }
}

/// The text NuGet users read, in nuget.org's words where it has some.
fn message(err: &DomainError) -> String {
    match err {
        DomainError::AlreadyExists {
            what: What::Version | What::File,
            message,
        } => format!(
            "A package with this ID and version already exists and cannot be modified ({message})"
        ),
        other => other.to_string(),
    }
}

/// `Canonical - message`, printable ASCII only, short: hyper writes it as the status
/// line's reason phrase.
fn reason_phrase(err: &DomainError, message: &str) -> Vec<u8> {
    let canonical = default_status(err).canonical_reason().unwrap_or("Error");
    let clean: String = message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .take(200)
        .collect();
    format!("{canonical} - {clean}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_read_as_nuget_org_words_them() {
        let err = DomainError::exists(What::File, "file a.1.0.0.nupkg already exists");
        let response = NugetError::from(err).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let reason = response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .expect("a reason phrase");
        let text = String::from_utf8_lossy(reason.as_bytes()).into_owned();
        assert!(
            text.starts_with("Conflict - A package with this ID and version already exists"),
            "{text}"
        );
        let unauth =
            NugetError::from(DomainError::Unauthenticated("sign in\nnow".into())).into_response();
        assert_eq!(
            unauth.headers()["www-authenticate"],
            "Basic realm=\"Packyard\""
        );
        let reason = unauth
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .expect("reason");
        assert_eq!(reason.as_bytes(), b"Unauthorized - sign in now");
    }
}
