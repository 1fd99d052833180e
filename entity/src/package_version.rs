//! The `package_version` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "package_version")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub package_id: i64,
    pub version: String,
    /// Format-specific metadata, a serde-tagged document (see `domain::metadata`).
    pub metadata: Json,
    pub summary: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub readme: Option<String>,
    pub license: Option<String>,
    pub prerelease: bool,
    pub yanked: bool,
    pub publisher_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
