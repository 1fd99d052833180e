//! The `audit_event` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    pub data: Json,
    pub created_at: DateTimeUtc,
    /// The client's address (behind a trusted proxy, the one it forwarded for).
    pub source_ip: Option<String>,
    /// The access token (personal or repository) that authenticated the change.
    pub token_id: Option<i64>,
    /// The user or organization the target belongs to; its audit log lists the entry.
    pub owner_id: Option<i64>,
    /// The target's name when the change was made (a package, login, URL...).
    pub target_name: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
