//! npm's account endpoints: `whoami`, legacy `login`/`logout`, `npm token list|revoke`.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    auth::{Actor, credential_from_headers},
    domain::OwnerName,
    error::{DomainError, What},
    server::ClientAddr,
    state::AppState,
};

use super::{NpmActor, NpmResult};

pub(super) async fn whoami(State(state): State<AppState>, actor: NpmActor) -> NpmResult {
    match actor.into_inner() {
        Actor::User { login, .. } => Ok(Json(json!({"username": login})).into_response()),
        Actor::Repository { repository_id, .. } => {
            let repo = state.domain.repository_by_id(repository_id).await?;
            Ok(
                Json(json!({"username": format!("{}/{}", repo.owner_login, repo.name)}))
                    .into_response(),
            )
        }
        Actor::Anonymous => Err(DomainError::Unauthenticated("not logged in".into()).into()),
    }
}

/// The key `npm token list` shows (and `npm token revoke` takes a prefix of) for a token:
/// stable, unique, and not the token's hash.
fn token_key(id: i64) -> String {
    crate::storage::hex_sha256(format!("packyard-access-token:{id}").as_bytes())
}

/// `npm token list`: the caller's active tokens, as npm's token API lists them.
pub(super) async fn list_tokens(State(state): State<AppState>, actor: NpmActor) -> NpmResult {
    let actor = actor.into_inner();
    let now = chrono::Utc::now();
    let objects: Vec<Value> = state
        .domain
        .list_access_tokens(&actor)
        .await?
        .into_iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|at| at > now))
        .map(|t| {
            json!({
                "key": token_key(t.id),
                "token": t.display_prefix,
                "name": t.name,
                "created": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "updated": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "expires": t.expires_at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                "readonly": !t.scopes.iter().any(|s| s == "write:packages"),
                "cidr_whitelist": null,
            })
        })
        .collect();
    Ok(
        Json(json!({"total": objects.len(), "objects": objects, "urls": {"next": null}}))
            .into_response(),
    )
}

/// `npm token revoke`: revokes one of the caller's tokens by its key.
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    actor: NpmActor,
    Path(key): Path<String>,
) -> NpmResult {
    let actor = actor.into_inner();
    let listed = state
        .domain
        .list_access_tokens(&actor)
        .await?
        .into_iter()
        .find(|t| t.revoked_at.is_none() && token_key(t.id) == key)
        .map(|t| t.id);
    // `npm token revoke <token value>` sends the secret itself.
    let token_id = match listed {
        Some(id) => id,
        None => {
            let named = state
                .domain
                .authenticate(&crate::auth::Credential::Secret {
                    secret: key,
                    username: None,
                })
                .await
                .ok()
                .filter(|a| a.user_id().is_some() && a.user_id() == actor.user_id());
            named
                .and_then(|a| a.token().map(|t| t.token_id))
                .ok_or_else(|| DomainError::not_found(What::Token, "token"))?
        }
    };
    state.domain.revoke_access_token(&actor, token_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub(super) struct LoginBody {
    name: String,
    password: String,
}

/// `npm login` (legacy): a username and password exchanged for a new token.
pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Path(user): Path<String>,
    Json(body): Json<LoginBody>,
) -> NpmResult {
    let name = user
        .strip_prefix("org.couchdb.user:")
        .ok_or_else(|| DomainError::not_found(What::Endpoint, "user endpoint"))?;
    if !name.eq_ignore_ascii_case(&body.name) {
        return Err(DomainError::invalid("the user name in the path and the body differ").into());
    }
    let login = OwnerName::parse(&body.name)?;
    let (_, secret) = state
        .domain
        .login_with_password(&login, &body.password, "npm login", client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"ok": true, "id": format!("org.couchdb.user:{login}"), "token": secret})),
    )
        .into_response())
}

/// `npm logout`: revokes the token presented.
pub(super) async fn logout(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> NpmResult {
    let presented = match credential_from_headers(&headers)? {
        Some(crate::auth::Credential::Secret { secret, .. }) => secret,
        None => return Err(DomainError::Unauthenticated("authentication required".into()).into()),
    };
    if presented != token {
        return Err(
            DomainError::forbidden("a client may only revoke the token it presents").into(),
        );
    }
    state
        .domain
        .authenticate(&crate::auth::Credential::Secret {
            secret: presented.clone(),
            username: None,
        })
        .await?;
    state.domain.revoke_presented_token(&presented).await?;
    Ok(Json(json!({"ok": true})).into_response())
}
