//! The `usage_threshold` table: quota thresholds an owner crossed, once per month each.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_threshold")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    /// `storage` or `transfer`.
    pub kind: String,
    /// 75, 90 or 100.
    pub percent: i32,
    /// The first day of the month (UTC) the crossing belongs to.
    pub month: Date,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
