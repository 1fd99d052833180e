//! Maven's error shape: the message as plain text and, because mvn and Gradle print only
//! the status line of a failed transfer, as the reason phrase too; the Basic challenge on
//! 401 (Maven and Gradle send credentials only after one).
use axum::{
    http::HeaderValue,
    response::{IntoResponse, Response},
};
use hyper::ext::ReasonPhrase;

use crate::{
    domain::maven::RepositoryRef,
    error::{DomainError, What},
    formats::kit::errors::{Door, DoorError},
};

pub struct MavenDoor;

impl Door for MavenDoor {
    const CHALLENGE: Option<&'static str> = Some("Basic realm=\"Packyard\"");

    fn body(err: &DomainError) -> Response {
        let message = match err {
            DomainError::AlreadyExists {
                what: What::File, ..
            } => format!(
                "{err}: a release is immutable; deploy a new version (or a -SNAPSHOT) instead"
            ),
            DomainError::DigestMismatch { .. } => {
                format!("checksum mismatch, nothing stored: {err}")
            }
            other => other.to_string(),
        };
        with_reason(message)
    }
}

/// The text as body and as reason phrase (kept to visible ASCII, as HTTP/1.1 allows).
fn with_reason(message: String) -> Response {
    let phrase: String = message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(300)
        .collect();
    let mut response = (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        message,
    )
        .into_response();
    if let Ok(reason) = ReasonPhrase::try_from(phrase.into_bytes()) {
        response.extensions_mut().insert(reason);
    }
    response
}

/// A Maven door error: a domain error, or a deploy to a repository that doesn't exist,
/// which says how to create it.
pub enum MavenError {
    Domain(DoorError<MavenDoor>),
    NoRepository(RepositoryRef),
}

impl MavenError {
    /// A deploy's error: a missing repository (or one the caller may not see) names the
    /// repository and how to create it.
    pub fn deploying(repo: &RepositoryRef) -> impl Fn(DomainError) -> MavenError + '_ {
        move |e| match e {
            DomainError::NotFound {
                what: What::Repository,
                ..
            } => MavenError::NoRepository(repo.clone()),
            other => other.into(),
        }
    }
}

impl From<DomainError> for MavenError {
    fn from(e: DomainError) -> Self {
        Self::Domain(e.into())
    }
}

impl IntoResponse for MavenError {
    fn into_response(self) -> Response {
        match self {
            Self::Domain(e) => e.into_response(),
            Self::NoRepository(repo) => {
                let mut response = with_reason(format!(
                    "Repository {repo} does not exist: create it with 'packyard admin \
                     create-repository {repo}' or GraphQL createRepository, then deploy again"
                ));
                *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
                response
            }
        }
    }
}
