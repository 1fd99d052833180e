//! The `account` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Lower-case, unique across users and organizations.
    #[sea_orm(unique)]
    pub login: String,
    /// `user` or `organization`.
    pub kind: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// argon2 PHC string; users only.
    pub password_hash: Option<String>,
    pub site_admin: bool,
    /// Organizations: visibility of new packages (`private`, `internal`, `public`).
    pub default_package_visibility: String,
    /// Organizations: whether new packages linked to a repository inherit its access.
    pub default_inherit_access: bool,
    /// Organizations: whether plain members may create packages (else owners only).
    pub members_can_create_packages: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
