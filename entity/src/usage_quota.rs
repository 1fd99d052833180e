//! The `usage_quota` table: an owner's own quotas (`NULL`: unlimited). Owners without a
//! row get the configured defaults.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_quota")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_id: i64,
    pub storage_bytes: Option<i64>,
    /// Per calendar month (UTC).
    pub transfer_bytes: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
