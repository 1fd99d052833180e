//! The Docker registry token flow (`/v2/token`): who asks (Basic credentials, or the
//! OAuth2 password form), which scopes they ask for, and the JWT that grants what policy
//! allows of them.
//!
//! Spec: the Docker registry token authentication spec ("Token Scope Documentation").
use axum::{
    Json,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    auth::{Actor, Credential, credential_from_headers, jwt::Access},
    domain::{packages::PackageRef, registry::ImageAction},
    state::AppState,
};

use super::{
    auth::{service, unauthorized},
    errors::*,
    names::parse_image,
};

/// The largest form `POST /v2/token` reads.
pub const TOKEN_FORM_MAX: usize = 64 * 1024;
/// The most scopes one token request may ask for: each costs lookups, and no client asks
/// for more than a few.
const MAX_TOKEN_SCOPES: usize = 32;

#[derive(Deserialize, Default)]
pub struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    scope: Option<String>,
}

/// `GET /v2/token?service=...&scope=repository:NAME:pull,push`: Basic credentials (user +
/// access token) or none; the JWT grants what policy allows.
pub async fn token_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response, OciError> {
    let scopes: Vec<String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.to_string())
            .collect();
    let actor = match credential_from_headers(&headers)
        .map_err(|e| unauthorized(&state, None, &e.to_string()))?
    {
        None => Actor::Anonymous,
        Some(credential) => state
            .domain
            .authenticate(&credential)
            .await
            // Bad credentials are 401; the database away is 503 (`refused`).
            .map_err(|e| super::auth::refused(&state, None, e))?,
    };
    issue(&state, &actor, &scopes).await
}

/// The OAuth2 form of the token endpoint (`grant_type=password`).
pub async fn token_post(
    State(state): State<AppState>,
    axum::extract::Form(form): axum::extract::Form<TokenForm>,
) -> Result<Response, OciError> {
    if form.grant_type.as_deref() != Some("password") {
        return Err(OciError::new(
            UNSUPPORTED,
            "only grant_type=password is supported",
        ));
    }
    let secret = form.password.unwrap_or_default();
    let credential = Credential::Secret {
        secret,
        username: form.username,
    };
    let actor = state
        .domain
        .authenticate(&credential)
        .await
        .map_err(|e| super::auth::refused(&state, None, e))?;
    let scopes: Vec<String> = form.scope.into_iter().collect();
    issue(&state, &actor, &scopes).await
}

/// One requested scope, parsed.
#[derive(Debug, PartialEq)]
pub enum ScopeRequest {
    /// `registry:catalog:*`: listing `/v2/_catalog` (what it shows is policy's call).
    Catalog,
    /// `repository:NAME:ACTIONS`; `name` is kept as asked, since the token's access
    /// echoes it and clients compare.
    Repository {
        name: String,
        image: PackageRef,
        actions: Vec<ImageAction>,
    },
}

/// Parses the `scope` values of a token request (each may hold several, space-separated).
/// Unknown kinds, invalid names, unknown actions and malformed scopes are skipped, as
/// distribution does: the token simply doesn't grant them. More than `MAX_TOKEN_SCOPES`
/// refuses the request.
pub fn parse_scopes(scopes: &[String]) -> Result<Vec<ScopeRequest>, OciError> {
    let requested: Vec<&str> = scopes.iter().flat_map(|s| s.split(' ')).collect();
    if requested.len() > MAX_TOKEN_SCOPES {
        return Err(OciError {
            status: 400,
            ..OciError::new(
                UNSUPPORTED,
                format!(
                    "too many scopes: at most {MAX_TOKEN_SCOPES} per token request, {} asked for",
                    requested.len()
                ),
            )
        });
    }
    let mut parsed = Vec::new();
    for one in requested {
        let mut parts = one.splitn(3, ':');
        let (Some(kind), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        match kind {
            "registry" if name == "catalog" => parsed.push(ScopeRequest::Catalog),
            "repository" => {
                let Ok(image) = parse_image(name) else {
                    continue;
                };
                parsed.push(ScopeRequest::Repository {
                    name: name.to_string(),
                    image,
                    actions: actions.split(',').filter_map(|a| a.parse().ok()).collect(),
                });
            }
            _ => {}
        }
    }
    Ok(parsed)
}

/// Grants, for each requested scope, the actions policy allows the actor now, and signs
/// them into a token.
async fn issue(state: &AppState, actor: &Actor, scopes: &[String]) -> Result<Response, OciError> {
    let mut access = Vec::new();
    for scope in parse_scopes(scopes)? {
        match scope {
            ScopeRequest::Catalog => access.push(Access {
                kind: "registry".into(),
                name: "catalog".into(),
                actions: vec!["*".into()],
            }),
            ScopeRequest::Repository {
                name,
                image,
                actions,
            } => {
                let granted = state
                    .domain
                    .granted_actions(actor, &image, &actions)
                    .await?;
                if !granted.is_empty() {
                    access.push(Access {
                        kind: "repository".into(),
                        name,
                        actions: granted.iter().map(ToString::to_string).collect(),
                    });
                }
            }
        }
    }
    let (token, issued_at) = state
        .domain
        .issue_bearer(actor, &service(state), access)
        .await?;
    let issued = chrono::DateTime::from_timestamp(issued_at, 0).unwrap_or_default();
    Ok(Json(json!({
        "token": token,
        "access_token": token,
        "expires_in": crate::auth::jwt::TOKEN_LIFETIME_SECS,
        "issued_at": issued.to_rfc3339(),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn scopes_parse_to_typed_requests() {
        let parsed = parse_scopes(&scopes(&[
            "repository:acme/app:pull,push registry:catalog:*",
            "repository:acme/web/api:delete,bogus,*",
        ]))
        .expect("parsed");
        assert_eq!(parsed.len(), 3);
        match &parsed[0] {
            ScopeRequest::Repository {
                name,
                image,
                actions,
            } => {
                assert_eq!(name, "acme/app");
                assert_eq!((image.owner.as_str(), image.name.as_str()), ("acme", "app"));
                assert_eq!(actions, &[ImageAction::Pull, ImageAction::Push]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parsed[1], ScopeRequest::Catalog);
        match &parsed[2] {
            ScopeRequest::Repository { actions, .. } => {
                assert_eq!(actions, &[ImageAction::Delete, ImageAction::All]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_and_unknown_scopes_are_skipped() {
        let parsed = parse_scopes(&scopes(&[
            "repository:acme/app",
            "repository:Acme/App:pull",
            "plugin:foo:pull",
            "registry:other:*",
            "",
        ]))
        .expect("parsed");
        assert!(parsed.is_empty(), "{parsed:?}");
    }

    #[test]
    fn at_most_32_scopes() {
        let many: Vec<String> = (0..33)
            .map(|i| format!("repository:acme/app{i}:pull"))
            .collect();
        let err = parse_scopes(&many).expect_err("too many");
        assert_eq!((err.code, err.status), (UNSUPPORTED, 400));
        assert_eq!(parse_scopes(&many[..32]).expect("32 is fine").len(), 32);
    }
}
