//! Retention policies (per package, or per owner with a name pattern and type), the runs of
//! the scheduled job (a unique slot per interval claims each run once across replicas), and
//! the bytes garbage collection reclaimed per owner.
use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::{Account, Package};

#[derive(DeriveIden, Clone, Copy)]
enum RetentionPolicy {
    Table,
    Id,
    OwnerId,
    PackageId,
    PackageType,
    NamePattern,
    KeepNewest,
    OlderThanDays,
    VersionPattern,
    OnlyPrerelease,
    MinDownloadsProtect,
    Enabled,
    LastRunAt,
    VersionsDeleted,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RetentionRun {
    Table,
    Id,
    Slot,
    StartedAt,
    FinishedAt,
    VersionsDeleted,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReclaimedStorage {
    Table,
    OwnerId,
    Bytes,
    UpdatedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RetentionPolicy::Table)
                .col(big_pk_auto(RetentionPolicy::Id))
                .col(big_integer(RetentionPolicy::OwnerId))
                .col(big_integer_null(RetentionPolicy::PackageId))
                .col(string_null(RetentionPolicy::PackageType))
                .col(string_null(RetentionPolicy::NamePattern))
                .col(integer_null(RetentionPolicy::KeepNewest))
                .col(integer_null(RetentionPolicy::OlderThanDays))
                .col(string_null(RetentionPolicy::VersionPattern))
                .col(boolean(RetentionPolicy::OnlyPrerelease).default(false))
                .col(big_integer_null(RetentionPolicy::MinDownloadsProtect))
                .col(boolean(RetentionPolicy::Enabled).default(true))
                .col(timestamp_with_time_zone_null(RetentionPolicy::LastRunAt))
                .col(big_integer(RetentionPolicy::VersionsDeleted).default(0))
                .col(timestamp_with_time_zone(RetentionPolicy::CreatedAt))
                .col(timestamp_with_time_zone(RetentionPolicy::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RetentionPolicy::Table, RetentionPolicy::OwnerId)
                        .to(Account::Table, Account::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(RetentionPolicy::Table, RetentionPolicy::PackageId)
                        .to(Package::Table, Package::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_retention_policy_owner")
                .table(RetentionPolicy::Table)
                .col(RetentionPolicy::OwnerId)
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RetentionRun::Table)
                .col(big_pk_auto(RetentionRun::Id))
                // Scheduled runs: seconds since the epoch / interval. Manual runs: NULL
                // (unique indexes let NULLs repeat on both backends).
                .col(big_integer_null(RetentionRun::Slot))
                .col(timestamp_with_time_zone(RetentionRun::StartedAt))
                .col(timestamp_with_time_zone_null(RetentionRun::FinishedAt))
                .col(big_integer(RetentionRun::VersionsDeleted).default(0))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_retention_run_slot")
                .table(RetentionRun::Table)
                .col(RetentionRun::Slot)
                .unique()
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ReclaimedStorage::Table)
                .col(big_integer(ReclaimedStorage::OwnerId).primary_key())
                .col(big_integer(ReclaimedStorage::Bytes))
                .col(timestamp_with_time_zone(ReclaimedStorage::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ReclaimedStorage::Table, ReclaimedStorage::OwnerId)
                        .to(Account::Table, Account::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ReclaimedStorage::Table.into_iden(),
            RetentionRun::Table.into_iden(),
            RetentionPolicy::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
