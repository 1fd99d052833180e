//! Browser sessions of the web UI: signing in with a password (throttled like every
//! password check), the session a cookie names, the user's list of sessions, revocation.
//! A session acts as its user with every scope (as a password does); only the SHA-256 of
//! its secret is stored. The CSRF token of a session is derived from its secret, so it
//! needs no storage and only the holder of the cookie can know it.
use chrono::{DateTime, Duration, Utc};
use entity::web_session;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, sea_query::Expr,
};

use crate::{
    auth::{Actor, generate_token, hash_token},
    domain::{Domain, OwnerName, audit, now},
    error::{DomainError, DomainResult, What},
};

/// How long a session lasts after sign-in.
pub const SESSION_DAYS: i64 = 14;
/// `last_seen_at` is written at most this often (a page view is not a write).
const LAST_SEEN_RESOLUTION_SECS: i64 = 60;
/// User agents are shown, not parsed: a bounded prefix is enough.
const USER_AGENT_CHARS: usize = 200;

/// A session as its user sees it in the list (never its secret).
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub id: i64,
    pub user_id: i64,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The session a request's cookie names, with the actor it signs in.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub actor: Actor,
    pub session: SessionInfo,
}

/// A new session: its secret goes into the cookie and nowhere else.
pub struct NewSession {
    pub session: SessionInfo,
    pub secret: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The CSRF token of the session holding `secret`: a keyed hash, so it can't be derived
/// without the cookie, and it changes with every session.
pub fn csrf_token(secret: &str) -> String {
    hash_token(&format!("packyard-csrf:{secret}"))
}

fn session_info(m: web_session::Model) -> SessionInfo {
    SessionInfo {
        id: m.id,
        user_id: m.user_id,
        user_agent: m.user_agent,
        created_at: m.created_at,
        last_seen_at: m.last_seen_at,
        expires_at: m.expires_at,
    }
}

impl Domain {
    /// Signs a user in with their password (`verify_password`: throttled per account and
    /// client) and opens a session.
    pub async fn sign_in(
        &self,
        login: &OwnerName,
        password: &str,
        client: Option<std::net::IpAddr>,
        user_agent: Option<&str>,
    ) -> DomainResult<NewSession> {
        let user = self.verify_password(login, password, client).await?;
        let new = generate_token();
        let at = now();
        let model = web_session::ActiveModel {
            user_id: Set(user.id),
            secret_hash: Set(new.hash.clone()),
            user_agent: Set(user_agent.map(|ua| ua.chars().take(USER_AGENT_CHARS).collect())),
            created_at: Set(at),
            last_seen_at: Set(at),
            expires_at: Set(at + Duration::days(SESSION_DAYS)),
            revoked_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        let actor = Actor::User {
            id: user.id,
            login: user.login.clone(),
            site_admin: user.site_admin,
            token: None,
        };
        audit::record(
            &self.db,
            &actor,
            "session.create",
            "web_session",
            Some(model.id),
            serde_json::json!({}),
        )
        .await?;
        Ok(NewSession {
            session: session_info(model),
            secret: new.secret,
        })
    }

    /// The signed-in user of a session cookie. Unknown, expired and revoked sessions are
    /// `Unauthenticated` (the UI then treats the visitor as anonymous and drops the cookie).
    pub async fn web_session(&self, secret: &str) -> DomainResult<SignedIn> {
        let refuse = || DomainError::Unauthenticated("session expired; sign in again".into());
        let session = web_session::Entity::find()
            .filter(web_session::Column::SecretHash.eq(hash_token(secret)))
            .one(&self.db)
            .await?
            .ok_or_else(refuse)?;
        let at = now();
        if session.revoked_at.is_some() || session.expires_at <= at {
            return Err(refuse());
        }
        let user = self.account_by_id(session.user_id).await?;
        if (at - session.last_seen_at).num_seconds() >= LAST_SEEN_RESOLUTION_SECS {
            web_session::Entity::update_many()
                .col_expr(web_session::Column::LastSeenAt, Expr::value(at))
                .filter(web_session::Column::Id.eq(session.id))
                .exec(&self.db)
                .await?;
        }
        Ok(SignedIn {
            actor: Actor::User {
                id: user.id,
                login: user.login,
                site_admin: user.site_admin,
                token: None,
            },
            session: session_info(session),
        })
    }

    /// The caller's live sessions, newest first.
    pub async fn list_sessions(&self, actor: &Actor) -> DomainResult<Vec<SessionInfo>> {
        let user_id = self.session_owner(actor)?;
        Ok(web_session::Entity::find()
            .filter(web_session::Column::UserId.eq(user_id))
            .filter(web_session::Column::RevokedAt.is_null())
            .filter(web_session::Column::ExpiresAt.gt(now()))
            .order_by_desc(web_session::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(session_info)
            .collect())
    }

    /// Revokes one of the caller's sessions (sign-out is revoking one's own). Someone
    /// else's session is not found, as if it didn't exist.
    pub async fn revoke_session(&self, actor: &Actor, session_id: i64) -> DomainResult<()> {
        let user_id = self.session_owner(actor)?;
        let session = web_session::Entity::find_by_id(session_id)
            .one(&self.db)
            .await?
            .filter(|s| s.user_id == user_id || actor.site_admin())
            .ok_or_else(|| DomainError::not_found(What::Session, "session"))?;
        web_session::Entity::update_many()
            .col_expr(web_session::Column::RevokedAt, Expr::value(now()))
            .filter(web_session::Column::Id.eq(session.id))
            .filter(web_session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        audit::record(
            &self.db,
            actor,
            "session.revoke",
            "web_session",
            Some(session.id),
            serde_json::json!({}),
        )
        .await?;
        Ok(())
    }

    /// Sessions belong to users; a token needs the `user` scope to manage them.
    fn session_owner(&self, actor: &Actor) -> DomainResult<i64> {
        let user_id = actor
            .user_id()
            .ok_or_else(|| DomainError::Unauthenticated("authentication required".into()))?;
        if !actor.has_scope(crate::auth::Scope::User) {
            return Err(DomainError::forbidden("the token lacks the user scope"));
        }
        Ok(user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_signs_in_until_it_expires_or_is_revoked_and_only_by_its_owner() {
        let (_dir, domain, other, _) =
            crate::domain::test_support::domain_with_user("mallory").await;
        let login = OwnerName::parse("alice").expect("login");
        domain
            .create_user(&login, None, Some("a long password"), false)
            .await
            .expect("alice");
        let refused = domain.sign_in(&login, "wrong", None, None).await;
        assert!(matches!(refused, Err(DomainError::Unauthenticated(_))));

        let first = domain
            .sign_in(&login, "a long password", None, Some("Test Browser"))
            .await
            .expect("signed in");
        let second = domain
            .sign_in(&login, "a long password", None, None)
            .await
            .expect("signed in again");
        assert_ne!(first.secret, second.secret);
        assert_ne!(csrf_token(&first.secret), csrf_token(&second.secret));
        assert!(
            !format!("{first:?}").contains(&first.secret),
            "secret redacted"
        );
        let signed_in = domain.web_session(&first.secret).await.expect("session");
        assert_eq!(signed_in.actor.user_id(), Some(first.session.user_id));
        assert!(
            signed_in.actor.token().is_none(),
            "a session acts with every scope"
        );
        assert!(domain.web_session("pky_not-a-session").await.is_err());

        // Someone else's session is not found, and stays valid.
        let not_theirs = domain.revoke_session(&other, first.session.id).await;
        assert!(matches!(not_theirs, Err(DomainError::NotFound { .. })));
        assert!(domain.list_sessions(&other).await.expect("list").is_empty());
        assert_eq!(
            domain
                .list_sessions(&signed_in.actor)
                .await
                .expect("list")
                .len(),
            2
        );

        domain
            .revoke_session(&signed_in.actor, first.session.id)
            .await
            .expect("revoked");
        assert!(matches!(
            domain.web_session(&first.secret).await,
            Err(DomainError::Unauthenticated(_))
        ));

        // An expired session no longer signs in.
        web_session::Entity::update_many()
            .col_expr(
                web_session::Column::ExpiresAt,
                Expr::value(now() - Duration::seconds(1)),
            )
            .filter(web_session::Column::Id.eq(second.session.id))
            .exec(&domain.db)
            .await
            .expect("backdate");
        assert!(matches!(
            domain.web_session(&second.secret).await,
            Err(DomainError::Unauthenticated(_))
        ));
        assert!(
            domain
                .list_sessions(&signed_in.actor)
                .await
                .expect("list")
                .is_empty()
        );
    }
}
