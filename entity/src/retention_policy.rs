//! The `retention_policy` table: which versions of an owner's packages are deleted on a
//! schedule (see `domain::retention`). `package_id` `NULL`: owner-wide, narrowed by
//! `package_type` and the `name_pattern` glob.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retention_policy")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    pub package_id: Option<i64>,
    pub package_type: Option<String>,
    pub name_pattern: Option<String>,
    pub keep_newest: Option<i32>,
    pub older_than_days: Option<i32>,
    pub version_pattern: Option<String>,
    pub only_prerelease: bool,
    pub min_downloads_protect: Option<i64>,
    pub enabled: bool,
    pub last_run_at: Option<DateTimeUtc>,
    pub versions_deleted: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
