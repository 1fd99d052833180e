//! Bearer tokens of the registry's token flow: the keys they are signed with, who a
//! token speaks for, and signing the access the door computed.

use tokio::sync::OnceCell;

use crate::{
    auth::{
        Actor,
        jwt::{Access, Claims, JwtKeys},
    },
    domain::Domain,
    error::{DomainError, DomainResult},
};

/// The signing keys, loaded once per process on first use.
#[derive(Default)]
pub(crate) struct OciKeys(OnceCell<JwtKeys>);

/// Who a bearer token speaks for, as its `sub` claim names them; checked again on use.
fn bearer_subject(actor: &Actor) -> String {
    match actor {
        Actor::Anonymous => "anonymous".to_string(),
        Actor::User { id, .. } => format!("user:{id}"),
        Actor::Repository { repository_id, .. } => format!("repository:{repository_id}"),
    }
}

impl Domain {
    /// The keys bearer tokens are signed with: the configured secret, or one generated once
    /// and shared through the blob store by every replica.
    pub async fn jwt_keys(&self) -> DomainResult<&JwtKeys> {
        self.oci_keys
            .0
            .get_or_try_init(|| async {
                let secret = match &self.config.jwt_secret {
                    Some(s) => s.as_bytes().to_vec(),
                    None => self.blobs.shared_secret("oci-jwt-secret").await?,
                };
                Ok(JwtKeys::new(&secret))
            })
            .await
    }

    /// The actor a bearer token speaks for: the access token it was issued for (`tid`),
    /// checked again now, or else (tokens issued to anonymous callers) nobody.
    pub async fn actor_for_bearer(&self, claims: &Claims) -> DomainResult<Actor> {
        let actor = match claims.tid {
            Some(tid) => self.actor_for_token_id(tid).await?,
            None => Actor::Anonymous,
        };
        if bearer_subject(&actor) != claims.sub {
            return Err(DomainError::Unauthenticated(
                "bad credentials: the token's subject changed".into(),
            ));
        }
        Ok(actor)
    }

    /// Signs a bearer token for the actor carrying the access the door computed from the
    /// grants (`granted_actions`) for the scopes it was asked for.
    pub async fn issue_bearer(
        &self,
        actor: &Actor,
        audience: &str,
        access: Vec<Access>,
    ) -> DomainResult<(String, i64)> {
        let (token, claims) = self
            .jwt_keys()
            .await?
            .issue(
                bearer_subject(actor),
                actor.token().map(|t| t.token_id),
                audience,
                access,
            )
            .map_err(DomainError::internal)?;
        Ok((token, claims.iat))
    }
}
