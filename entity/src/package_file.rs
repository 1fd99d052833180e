//! The `package_file` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "package_file")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub version_id: i64,
    pub name: String,
    /// `sha256:<hex>`, the key of the `blob` row.
    pub blob_digest: String,
    pub size: i64,
    pub content_type: String,
    /// Whether a download of this file counts as a download of the version.
    pub lead: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
