//! The `webhook` table: a payload URL an owner (or one of its repositories) configured.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    /// Set: only the repository's packages' events.
    pub repository_id: Option<i64>,
    pub url: String,
    /// The HMAC key; never shown again once set.
    pub secret: Option<String>,
    /// `json` or `form`.
    pub content_type: String,
    /// The actions delivered (`["published", ...]`).
    pub events: Json,
    pub active: bool,
    pub insecure_ssl: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
