//! Reading credentials from a request, in every shape our clients send them.
use std::marker::PhantomData;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
    response::IntoResponse,
};
use base64::Engine;

use crate::{auth::Actor, error::DomainError, state::AppState};

/// A credential as presented; the domain decides what it is worth.
#[derive(Clone)]
pub enum Credential {
    /// A secret from `Authorization: Bearer`, raw `Authorization` (RubyGems),
    /// `X-NuGet-ApiKey`, or the password of `Basic`.
    Secret {
        secret: String,
        username: Option<String>,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret { username, .. } => f
                .debug_struct("Secret")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

/// Finds the credential in the headers; `Ok(None)` when there is none, an error when the
/// header is there but malformed.
pub fn credential_from_headers(headers: &HeaderMap) -> Result<Option<Credential>, DomainError> {
    if let Some(key) = headers.get("x-nuget-apikey") {
        let secret = key.to_str().map_err(|_| bad())?.trim().to_string();
        return Ok(Some(Credential::Secret {
            secret,
            username: None,
        }));
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or(("", value));
    let credential = match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "token" => Credential::Secret {
            secret: rest.trim().to_string(),
            username: None,
        },
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| bad())?;
            let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
            let (user, password) = decoded.split_once(':').ok_or_else(bad)?;
            Credential::Secret {
                secret: password.to_string(),
                username: Some(user.to_string()),
            }
        }
        // RubyGems sends the bare key.
        _ if !value.contains(' ') => Credential::Secret {
            secret: value.to_string(),
            username: None,
        },
        _ => return Err(bad()),
    };
    Ok(Some(credential))
}

fn bad() -> DomainError {
    DomainError::Unauthenticated("malformed Authorization header".into())
}

/// The request's actor, or the door's own rendering of why it has none. `E` is the door's
/// error type, so each door answers bad credentials in its client's shape.
pub struct CurrentActor<E>(pub Actor, PhantomData<E>);

impl<E> CurrentActor<E> {
    pub fn into_inner(self) -> Actor {
        self.0
    }
}

impl<E> FromRequestParts<AppState> for CurrentActor<E>
where
    E: From<DomainError> + IntoResponse,
{
    type Rejection = E;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let credential = credential_from_headers(&parts.headers)?;
        let actor = match credential {
            None => Actor::Anonymous,
            Some(credential) => state.domain.authenticate(&credential).await?,
        };
        if let Some(span_actor) = parts.extensions.get::<crate::telemetry::ActorSlot>() {
            span_actor.set(&actor);
        }
        Ok(Self(actor, PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn secret(headers: &HeaderMap) -> Option<(String, Option<String>)> {
        credential_from_headers(headers)
            .expect("parses")
            .map(|Credential::Secret { secret, username }| (secret, username))
    }

    #[test]
    fn every_client_shape() {
        let mut h = HeaderMap::new();
        assert!(secret(&h).is_none());
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer pky_abc"),
        );
        assert_eq!(secret(&h), Some(("pky_abc".into(), None)));
        // user:pky_abc
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwa3lfYWJj"),
        );
        assert_eq!(secret(&h), Some(("pky_abc".into(), Some("user".into()))));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("pky_raw"));
        assert_eq!(secret(&h), Some(("pky_raw".into(), None)));
        h.insert("x-nuget-apikey", HeaderValue::from_static("pky_nuget"));
        assert_eq!(secret(&h), Some(("pky_nuget".into(), None)));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert!(credential_from_headers(&h).is_err());
    }
}
