//! A package's identity is its name key, not its name as written: NuGet ids are
//! case-insensitive (and PyPI normalizes names), so two spellings with one key are one
//! package. The name stays as first published, for display; the live-name unique index
//! moves to the key. Every format's key is its name so far, so the backfill is `name`.
use sea_orm_migration::prelude::*;

use crate::iden::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Package::Table)
                .add_column(
                    ColumnDef::new(Package::NameKey)
                        .text()
                        .not_null()
                        .default(""),
                )
                .take(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared("UPDATE package SET name_key = name")
            .await?;
        // Partial indexes aren't in sea-query's builder; this form is the same SQL on
        // SQLite and PostgreSQL (as in the core migration).
        // One batch: as two calls, the CREATE failed on SQLite with "index already exists"
        // (the two didn't see one schema); together they do.
        db.execute_unprepared(
            "DROP INDEX ux_package_live; \
             CREATE UNIQUE INDEX ux_package_live ON package (owner_id, format, name_key) WHERE deleted_at IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "DROP INDEX ux_package_live; \
             CREATE UNIQUE INDEX ux_package_live ON package (owner_id, format, name) WHERE deleted_at IS NULL",
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Package::Table)
                .drop_column(Package::NameKey)
                .take(),
        )
        .await
    }
}
