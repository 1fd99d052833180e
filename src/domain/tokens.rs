//! Access tokens: issue, list, revoke, and authenticate a request by one indexed lookup.
use chrono::{Duration, Utc};
use entity::{access_token, account, repository};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
    TransactionTrait, sea_query::Expr,
};

use crate::{
    auth::{
        Actor, Credential, Scope, Scopes, TOKEN_PREFIX, TokenGrant, generate_token, hash_token,
    },
    domain::{Domain, audit, names::OwnerName, now, views::TokenInfo},
    error::{DomainError, DomainResult, What},
};

/// What a new token may do.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    pub name: String,
    /// The latest the token may expire (a token made by a token expires no later).
    pub expires_by: Option<chrono::DateTime<chrono::Utc>>,
    pub scopes: String,
    pub expires_in_days: Option<i64>,
    /// Fine-grained: only this owner.
    pub owner_login: Option<String>,
    /// Fine-grained: only packages whose names match one of these globs.
    pub package_patterns: Option<Vec<String>>,
}

fn token_info(m: access_token::Model) -> TokenInfo {
    TokenInfo {
        id: m.id,
        user_id: m.user_id,
        repository_id: m.repository_id,
        name: m.name,
        display_prefix: m.display_prefix,
        scopes: m
            .scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        owner_login: m.owner_login,
        package_patterns: m
            .package_patterns
            .map(|p| p.split(',').map(String::from).collect()),
        expires_at: m.expires_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
        created_at: m.created_at,
    }
}

/// How often `last_used_at` is written for one token: a timestamp, not a request log.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

impl Domain {
    /// Issues a token for a user or a repository. Callers have decided it may be issued.
    async fn issue_token(
        &self,
        user_id: Option<i64>,
        repository_id: Option<i64>,
        request: &TokenRequest,
    ) -> DomainResult<(TokenInfo, String)> {
        let scopes = Scopes::parse(&request.scopes).map_err(DomainError::InvalidInput)?;
        if scopes == Scopes::default() {
            return Err(DomainError::invalid("a token needs at least one scope"));
        }
        let name = request.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(DomainError::invalid(
                "a token needs a name of 1 to 100 characters",
            ));
        }
        if let Some(days) = request.expires_in_days
            && !(1..=3650).contains(&days)
        {
            return Err(DomainError::invalid("expiry must be 1 to 3650 days"));
        }
        let owner_login = request
            .owner_login
            .as_deref()
            .map(OwnerName::parse)
            .transpose()?
            .map(|o| o.to_string());
        let patterns = match &request.package_patterns {
            Some(p) if p.is_empty() || p.iter().any(|x| x.is_empty() || x.contains(',')) => {
                return Err(DomainError::invalid(
                    "package patterns must be non-empty and contain no commas",
                ));
            }
            Some(p) => Some(p.join(",")),
            None => None,
        };
        let new = generate_token();
        let model = access_token::ActiveModel {
            user_id: Set(user_id),
            repository_id: Set(repository_id),
            name: Set(name.to_string()),
            display_prefix: Set(new.display_prefix.clone()),
            token_hash: Set(new.hash.clone()),
            scopes: Set(scopes.names().join(",")),
            owner_login: Set(owner_login),
            package_patterns: Set(patterns),
            expires_at: Set(
                match (
                    request.expires_in_days.map(|d| now() + Duration::days(d)),
                    request.expires_by,
                ) {
                    (Some(at), Some(by)) => Some(at.min(by)),
                    (at, by) => at.or(by),
                },
            ),
            last_used_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok((token_info(model), new.secret))
    }

    /// Bootstrap (CLI): issues a token for a user without an acting caller.
    pub async fn issue_user_token(
        &self,
        login: &OwnerName,
        request: &TokenRequest,
    ) -> DomainResult<(TokenInfo, String)> {
        let user = self.account_model(login).await?;
        if user.kind != "user" {
            return Err(DomainError::invalid(format!("{login} is not a user")));
        }
        self.issue_token(Some(user.id), None, request).await
    }

    /// npm login: a password exchanged for a package token.
    pub async fn login_with_password(
        &self,
        login: &OwnerName,
        password: &str,
        token_name: &str,
        client: Option<std::net::IpAddr>,
    ) -> DomainResult<(TokenInfo, String)> {
        let user = self.verify_password(login, password, client).await?;
        let request = TokenRequest {
            name: token_name.to_string(),
            // A password login may do what the password may, short of organization admin:
            // `user` lets `npm token list|revoke` manage the user's tokens.
            scopes: "read:packages,write:packages,delete:packages,user".into(),
            ..Default::default()
        };
        let result = self.issue_token(Some(user.id), None, &request).await?;
        let actor = Actor::User {
            id: user.id,
            login: user.login,
            site_admin: user.site_admin,
            token: None,
        };
        audit::record(
            &self.db,
            &actor,
            "token.create",
            "access_token",
            Some(result.0.id),
            serde_json::json!({"name": result.0.name, "password_login": true}),
        )
        .await?;
        Ok(result)
    }

    /// GraphQL: a token for the caller, or (with `repository_id`) a CI token for a repository
    /// the caller administers.
    pub async fn create_access_token(
        &self,
        actor: &Actor,
        repository_id: Option<i64>,
        request: &TokenRequest,
    ) -> DomainResult<(TokenInfo, String)> {
        let Some(user_id) = actor.user_id() else {
            return Err(match actor {
                Actor::Anonymous => DomainError::Unauthenticated("authentication required".into()),
                _ => DomainError::forbidden("repository tokens can't create tokens"),
            });
        };
        if !actor.has_scope(Scope::User) {
            return Err(DomainError::forbidden("the token lacks the user scope"));
        }
        // A token can't widen its own powers: not its scopes, not its owner or package
        // limits, not its lifetime. What it leaves out, the new token inherits.
        let mut request = request.clone();
        let mut expires_by = None;
        if let Some(grant) = actor.token() {
            let asked = Scopes::parse(&request.scopes).map_err(DomainError::InvalidInput)?;
            if asked
                .names()
                .iter()
                .any(|s| !grant.scopes.names().contains(s))
            {
                return Err(DomainError::forbidden(
                    "a token can't create a token with scopes it lacks",
                ));
            }
            if let Some(owner) = &grant.owner_login {
                match &request.owner_login {
                    None => request.owner_login = Some(owner.clone()),
                    Some(asked) if asked.eq_ignore_ascii_case(owner) => {}
                    Some(_) => {
                        return Err(DomainError::forbidden(
                            "a token limited to one owner can't create a token for another",
                        ));
                    }
                }
            }
            if let Some(patterns) = &grant.package_patterns {
                match &request.package_patterns {
                    None => request.package_patterns = Some(patterns.clone()),
                    Some(asked) if asked.iter().all(|p| patterns.contains(p)) => {}
                    Some(_) => {
                        return Err(DomainError::forbidden(
                            "a token limited to some packages can't create a token for others",
                        ));
                    }
                }
            }
            expires_by = access_token::Entity::find_by_id(grant.token_id)
                .one(&self.db)
                .await?
                .and_then(|t| t.expires_at);
        }
        request.expires_by = expires_by;
        let request = &request;
        let result = match repository_id {
            None => self.issue_token(Some(user_id), None, request).await?,
            Some(id) => {
                let repo = repository::Entity::find_by_id(id)
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| {
                        DomainError::not_found(What::Repository, format!("repository #{id}"))
                    })?;
                let owner = account::Entity::find_by_id(repo.owner_id)
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| DomainError::internal("repository without owner"))?;
                self.require_account_admin(actor, &owner).await?;
                self.issue_token(None, Some(id), request).await?
            }
        };
        audit::record(
            &self.db,
            actor,
            "token.create",
            "access_token",
            Some(result.0.id),
            serde_json::json!({"name": result.0.name}),
        )
        .await?;
        Ok(result)
    }

    /// Lists the caller's own tokens (never their secrets).
    pub async fn list_access_tokens(&self, actor: &Actor) -> DomainResult<Vec<TokenInfo>> {
        let user_id = actor
            .user_id()
            .ok_or_else(|| DomainError::Unauthenticated("authentication required".into()))?;
        if !actor.has_scope(Scope::User) {
            return Err(DomainError::forbidden("the token lacks the user scope"));
        }
        Ok(access_token::Entity::find()
            .filter(access_token::Column::UserId.eq(user_id))
            .order_by_asc(access_token::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(token_info)
            .collect())
    }

    /// Revokes a token of the caller's (or, for a site admin, anyone's). `by_secret` lets a
    /// client revoke the token it is holding (npm logout).
    pub async fn revoke_access_token(
        &self,
        actor: &Actor,
        token_id: i64,
    ) -> DomainResult<TokenInfo> {
        let user_id = actor
            .user_id()
            .ok_or_else(|| DomainError::Unauthenticated("authentication required".into()))?;
        // A leaked read-only token must not be able to revoke its owner's other tokens.
        if !actor.has_scope(Scope::User) {
            return Err(DomainError::forbidden("the token lacks the user scope"));
        }
        let token = access_token::Entity::find_by_id(token_id)
            .one(&self.db)
            .await?;
        let token = match token {
            Some(t) if actor.site_admin() || t.user_id == Some(user_id) => t,
            Some(t) if t.repository_id.is_some() => {
                let repo_id = t.repository_id.unwrap_or_default();
                let repo = repository::Entity::find_by_id(repo_id)
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| DomainError::not_found(What::Token, "token"))?;
                let owner = account::Entity::find_by_id(repo.owner_id)
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| DomainError::not_found(What::Token, "token"))?;
                self.require_account_admin(actor, &owner)
                    .await
                    .map_err(|_| DomainError::not_found(What::Token, "token"))?;
                t
            }
            _ => return Err(DomainError::not_found(What::Token, "token")),
        };
        let mut active = token.into_active_model();
        active.revoked_at = Set(Some(now()));
        let token = active.update(&self.db).await?;
        audit::record(
            &self.db,
            actor,
            "token.revoke",
            "access_token",
            Some(token.id),
            serde_json::json!({}),
        )
        .await?;
        Ok(token_info(token))
    }

    /// Revokes the very token presented (npm logout).
    pub async fn revoke_presented_token(&self, secret: &str) -> DomainResult<()> {
        // The token acts for itself: the audit entry names its user and its id.
        let actor = self
            .authenticate(&Credential::Secret {
                secret: secret.to_string(),
                username: None,
            })
            .await?;
        let txn = self.db.begin().await?;
        access_token::Entity::update_many()
            .col_expr(access_token::Column::RevokedAt, Expr::value(now()))
            .filter(access_token::Column::TokenHash.eq(hash_token(secret)))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            &actor,
            "token.revoke",
            "access_token",
            actor.token().map(|t| t.token_id),
            serde_json::json!({"presented": true}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Turns a presented credential into an actor: one lookup by the token's hash. Unknown,
    /// expired and revoked tokens are refused (not downgraded to anonymous).
    pub async fn authenticate(&self, credential: &Credential) -> DomainResult<Actor> {
        let Credential::Secret { secret, .. } = credential;
        let refuse = |why: &str| DomainError::Unauthenticated(format!("bad credentials: {why}"));
        if !secret.starts_with(TOKEN_PREFIX) {
            return Err(refuse("expected a Packyard access token"));
        }
        let token = access_token::Entity::find()
            .filter(access_token::Column::TokenHash.eq(hash_token(secret)))
            .one(&self.db)
            .await?
            .ok_or_else(|| refuse("unknown token"))?;
        self.actor_for_token(token).await
    }

    /// The actor behind the access token with this id (the one a bearer token was issued
    /// for), if it is still valid.
    pub async fn actor_for_token_id(&self, token_id: i64) -> DomainResult<Actor> {
        let token = access_token::Entity::find_by_id(token_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::Unauthenticated("bad credentials: unknown token".into()))?;
        self.actor_for_token(token).await
    }

    async fn actor_for_token(&self, token: access_token::Model) -> DomainResult<Actor> {
        let refuse = |why: &str| DomainError::Unauthenticated(format!("bad credentials: {why}"));
        let now = Utc::now();
        if token.revoked_at.is_some() {
            return Err(refuse("token revoked"));
        }
        if token.expires_at.is_some_and(|at| at <= now) {
            return Err(refuse("token expired"));
        }
        if token
            .last_used_at
            .is_none_or(|at| (now - at).num_seconds() >= LAST_USED_RESOLUTION_SECS)
        {
            access_token::Entity::update_many()
                .col_expr(access_token::Column::LastUsedAt, Expr::value(now))
                .filter(access_token::Column::Id.eq(token.id))
                .exec(&self.db)
                .await?;
        }
        let grant = TokenGrant {
            token_id: token.id,
            scopes: Scopes::parse(&token.scopes).map_err(DomainError::internal)?,
            owner_login: token.owner_login.clone(),
            package_patterns: token
                .package_patterns
                .as_ref()
                .map(|p| p.split(',').map(String::from).collect()),
        };
        match (token.user_id, token.repository_id) {
            (Some(user_id), _) => {
                let user = account::Entity::find_by_id(user_id)
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| refuse("unknown user"))?;
                // The username of Basic credentials is ignored, as GitHub Packages does:
                // the token alone says who is asking.
                Ok(Actor::User {
                    id: user.id,
                    login: user.login,
                    site_admin: user.site_admin,
                    token: Some(grant),
                })
            }
            (None, Some(repository_id)) => {
                let repo = repository::Entity::find_by_id(repository_id)
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| refuse("unknown repository"))?;
                Ok(Actor::Repository {
                    repository_id,
                    owner_id: repo.owner_id,
                    token: grant,
                })
            }
            (None, None) => Err(DomainError::internal("token without an owner")),
        }
    }
}
