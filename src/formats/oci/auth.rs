//! Who calls `/v2`: a bearer token we issued, or Basic/Bearer with an access token; and
//! the `WWW-Authenticate` challenge that starts the token flow when that isn't enough.

use axum::http::HeaderMap;

use crate::{
    auth::{
        Actor, Credential, credential_from_headers,
        jwt::{Claims, looks_like_jwt},
    },
    domain::registry::ImageAction,
    error::DomainError,
    state::AppState,
};

use super::errors::*;

/// The caller of a `/v2` request: who, and (with a bearer token) what it was granted.
pub(super) struct Caller {
    pub(super) actor: Actor,
    pub(super) claims: Option<Claims>,
}

impl Caller {
    /// Whether the bearer token (if any) grants `action` on `name`.
    pub(super) fn allows(&self, name: &str, action: ImageAction) -> bool {
        self.claims
            .as_ref()
            .is_none_or(|c| c.allows(name, &action.to_string()))
    }
}

pub(super) fn service(state: &AppState) -> String {
    let url = &state.config.public_url;
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    }
}

pub(super) fn challenge(state: &AppState, scope: Option<&str>) -> String {
    let mut c = format!(
        "Bearer realm=\"{}/v2/token\",service=\"{}\"",
        state.config.base_url(),
        service(state)
    );
    if let Some(scope) = scope {
        c.push_str(&format!(",scope=\"{scope}\""));
    }
    c
}

pub(super) fn unauthorized(state: &AppState, scope: Option<&str>, detail: &str) -> OciError {
    let mut e = OciError::new(UNAUTHORIZED, detail);
    e.challenge = Some(challenge(state, scope));
    e
}

/// Authenticates a `/v2` request: a bearer token we issued, or Basic/Bearer with an access
/// token. No credentials at all: 401 with the challenge that starts the token flow.
pub(super) async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    scope: Option<&str>,
) -> Result<Caller, OciError> {
    let credential =
        credential_from_headers(headers).map_err(|e| unauthorized(state, scope, &e.to_string()))?;
    match credential {
        None => Err(unauthorized(state, scope, "authentication required")),
        Some(Credential::Secret {
            secret,
            username: None,
        }) if looks_like_jwt(&secret) => {
            let keys = state.domain.jwt_keys().await?;
            let claims = keys
                .verify(&secret, &service(state))
                .map_err(|e| unauthorized(state, scope, &format!("invalid token: {e}")))?;
            let actor = state
                .domain
                .actor_for_bearer(&claims)
                .await
                .map_err(|e| refused(state, scope, e))?;
            Ok(Caller {
                actor,
                claims: Some(claims),
            })
        }
        Some(credential) => {
            let actor = state
                .domain
                .authenticate(&credential)
                .await
                .map_err(|e| refused(state, scope, e))?;
            Ok(Caller {
                actor,
                claims: None,
            })
        }
    }
}

/// Bad credentials get the challenge; anything else (the database away) is an error of
/// ours, not the client's credentials.
pub(super) fn refused(state: &AppState, scope: Option<&str>, e: DomainError) -> OciError {
    match e {
        DomainError::Unauthenticated(m) => unauthorized(state, scope, &m),
        other => OciError::from(other),
    }
}
