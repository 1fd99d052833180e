//! The `image_referrer` table: a container manifest that names a `subject` manifest.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "image_referrer")]
pub struct Model {
    /// The referring manifest's version.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version_id: i64,
    pub package_id: i64,
    /// The digest it refers to.
    pub subject: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
