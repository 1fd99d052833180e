//! Usage metering and quotas: transfer out per owner per day (added to by every replica's
//! flush), per-owner quotas, and the threshold crossings already announced (one row per
//! owner, kind, threshold and month, so each fires once).
use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::Account;

#[derive(DeriveIden, Clone, Copy)]
enum UsageDaily {
    Table,
    Id,
    OwnerId,
    Day,
    TransferBytes,
}

#[derive(DeriveIden, Clone, Copy)]
enum UsageQuota {
    Table,
    OwnerId,
    StorageBytes,
    TransferBytes,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UsageThreshold {
    Table,
    Id,
    OwnerId,
    Kind,
    Percent,
    Month,
    CreatedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

fn owner_fk<T: IntoIden + Copy + 'static>(table: T, column: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Account::Table, Account::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UsageDaily::Table)
                .col(big_pk_auto(UsageDaily::Id))
                .col(big_integer(UsageDaily::OwnerId))
                .col(date(UsageDaily::Day))
                .col(big_integer(UsageDaily::TransferBytes))
                .foreign_key(&mut owner_fk(UsageDaily::Table, UsageDaily::OwnerId))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_usage_daily_owner_day")
                .table(UsageDaily::Table)
                .col(UsageDaily::OwnerId)
                .col(UsageDaily::Day)
                .unique()
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(UsageQuota::Table)
                .col(big_integer(UsageQuota::OwnerId).primary_key())
                .col(big_integer_null(UsageQuota::StorageBytes))
                .col(big_integer_null(UsageQuota::TransferBytes))
                .col(timestamp_with_time_zone(UsageQuota::UpdatedAt))
                .foreign_key(&mut owner_fk(UsageQuota::Table, UsageQuota::OwnerId))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(UsageThreshold::Table)
                .col(big_pk_auto(UsageThreshold::Id))
                .col(big_integer(UsageThreshold::OwnerId))
                .col(string(UsageThreshold::Kind))
                .col(integer(UsageThreshold::Percent))
                .col(date(UsageThreshold::Month))
                .col(timestamp_with_time_zone(UsageThreshold::CreatedAt))
                .foreign_key(&mut owner_fk(
                    UsageThreshold::Table,
                    UsageThreshold::OwnerId,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_usage_threshold_once")
                .table(UsageThreshold::Table)
                .col(UsageThreshold::OwnerId)
                .col(UsageThreshold::Kind)
                .col(UsageThreshold::Percent)
                .col(UsageThreshold::Month)
                .unique()
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UsageThreshold::Table.into_iden(),
            UsageQuota::Table.into_iden(),
            UsageDaily::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
