//! The `retention_run` table: one row per application of the retention policies; a
//! scheduled run's `slot` is unique, which claims it once across replicas.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retention_run")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub slot: Option<i64>,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub versions_deleted: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
