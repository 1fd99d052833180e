//! Access tokens: create (shown once) and revoke.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::{tokens::TokenRequest, views::TokenInfo},
    graphql::{GqlResult, ctx, ids},
};

pub struct AccessTokenObject(pub TokenInfo);

#[Object(name = "AccessToken")]
impl AccessTokenObject {
    pub async fn id(&self) -> ID {
        ids::encode("AccessToken", self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The first characters of the token, to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.display_prefix
    }
    async fn scopes(&self) -> &[String] {
        &self.0.scopes
    }
    async fn owner_login(&self) -> Option<&str> {
        self.0.owner_login.as_deref()
    }
    async fn package_patterns(&self) -> Option<&[String]> {
        self.0.package_patterns.as_deref()
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(InputObject)]
pub struct CreateAccessTokenInput {
    pub name: String,
    /// `read:packages`, `write:packages`, `delete:packages`, `admin:org`, `user`.
    pub scopes: Vec<String>,
    pub expires_in_days: Option<i64>,
    /// A CI token acting as this repository instead of the viewer.
    pub repository_id: Option<ID>,
    /// Fine-grained: only this owner's packages.
    pub owner_login: Option<String>,
    /// Fine-grained: only packages whose names match these globs (`*`).
    pub package_patterns: Option<Vec<String>>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateAccessTokenPayload {
    pub client_mutation_id: Option<String>,
    /// The secret: shown this once, never again.
    pub token: String,
    pub access_token: AccessTokenObject,
}

#[derive(InputObject)]
pub struct RevokeAccessTokenInput {
    pub access_token_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct RevokeAccessTokenPayload {
    pub client_mutation_id: Option<String>,
    pub access_token: AccessTokenObject,
}

#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    async fn create_access_token(
        &self,
        c: &Context<'_>,
        input: CreateAccessTokenInput,
    ) -> async_graphql::Result<CreateAccessTokenPayload> {
        let c = ctx(c)?;
        let repository_id = input
            .repository_id
            .as_ref()
            .map(|id| ids::decode(id, "Repository"))
            .transpose()?;
        let request = TokenRequest {
            name: input.name,
            scopes: input.scopes.join(","),
            expires_in_days: input.expires_in_days,
            owner_login: input.owner_login,
            package_patterns: input.package_patterns,
            expires_by: None,
        };
        let (info, secret) = c
            .domain
            .create_access_token(c.actor, repository_id, &request)
            .await
            .gql()?;
        Ok(CreateAccessTokenPayload {
            client_mutation_id: input.client_mutation_id,
            token: secret,
            access_token: AccessTokenObject(info),
        })
    }

    async fn revoke_access_token(
        &self,
        c: &Context<'_>,
        input: RevokeAccessTokenInput,
    ) -> async_graphql::Result<RevokeAccessTokenPayload> {
        let c = ctx(c)?;
        let info = c
            .domain
            .revoke_access_token(c.actor, ids::decode(&input.access_token_id, "AccessToken")?)
            .await
            .gql()?;
        Ok(RevokeAccessTokenPayload {
            client_mutation_id: input.client_mutation_id,
            access_token: AccessTokenObject(info),
        })
    }
}
