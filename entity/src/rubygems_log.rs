//! The `rubygems_log` table: the owner's compact-index `/versions` lines, append-only.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rubygems_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    pub package_id: i64,
    /// `VERSION[-PLATFORM]`, or `-VERSION[-PLATFORM]` for a yank.
    pub entry: String,
    /// The MD5 of the gem's info file once this line was written.
    pub info_digest: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
