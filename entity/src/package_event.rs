//! The `package_event` table: one row per committed change to a package.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "package_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `published`, `updated`, `deleted`, `restored`.
    pub kind: String,
    pub package_id: i64,
    pub version_id: Option<i64>,
    pub owner_id: i64,
    pub actor_id: Option<i64>,
    /// The webhook payload as of the change (GitHub's `package` event shape).
    pub payload: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
