//! The `access_token` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The user the token acts as; `None` for a repository token.
    pub user_id: Option<i64>,
    /// The repository a CI token acts as.
    pub repository_id: Option<i64>,
    pub name: String,
    /// The first characters of the token, shown in listings.
    pub display_prefix: String,
    /// Hex SHA-256 of the whole token; the token itself is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Comma-separated scopes.
    pub scopes: String,
    /// Fine-grained tokens: the only owner (login) they may touch.
    pub owner_login: Option<String>,
    /// Fine-grained tokens: glob patterns (`*`) of package names, comma-separated.
    pub package_patterns: Option<String>,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
