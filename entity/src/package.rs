//! The `package` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "package")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    /// `generic`, `container`, `npm`, `maven`, `rubygems`, `nuget`.
    pub format: String,
    /// The name as first published, shown everywhere.
    pub name: String,
    /// What the name is looked up by: two names with one key are the same package
    /// (`FormatRules::name_key`; NuGet ids are case-insensitive).
    pub name_key: String,
    pub visibility: String,
    pub repository_id: Option<i64>,
    pub inherit_access: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
