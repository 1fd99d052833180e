//! Database migrations: one file per change, never edited once landed.
pub use sea_orm_migration::prelude::*;

mod iden;
mod m20261124_000001_core;
mod m20261124_000002_oci;
mod m20261130_000003_referrers;
mod m20261130_000004_upload_part_keys;
mod m20261201_000005_package_name_key;
mod m20261201_000006_rubygems_log;
mod m20261201_000009_web_sessions;
mod m20261201_000010_events;
mod m20261201_000011_usage;
mod m20261201_000012_audit_source;
mod m20261201_000013_retention;
mod m20261201_000014_package_list_order;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_core::Migration),
            Box::new(m20261124_000002_oci::Migration),
            Box::new(m20261130_000003_referrers::Migration),
            Box::new(m20261130_000004_upload_part_keys::Migration),
            Box::new(m20261201_000005_package_name_key::Migration),
            Box::new(m20261201_000006_rubygems_log::Migration),
            Box::new(m20261201_000009_web_sessions::Migration),
            Box::new(m20261201_000010_events::Migration),
            Box::new(m20261201_000011_usage::Migration),
            Box::new(m20261201_000012_audit_source::Migration),
            Box::new(m20261201_000013_retention::Migration),
            Box::new(m20261201_000014_package_list_order::Migration),
        ]
    }
}
