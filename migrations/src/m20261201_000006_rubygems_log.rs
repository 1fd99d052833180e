//! The RubyGems compact index's `/versions` file is append-only per owner: bundler fetches
//! its tail with `Range` and re-downloads the whole file when bytes it has changed. Each
//! push and yank appends one line (its gem, `VERSION[-PLATFORM]` or `-VERSION`, and the
//! MD5 of the gem's info file then), in order, so earlier lines never change.
use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RubygemsLog::Table)
                .col(big_pk_auto(RubygemsLog::Id))
                .col(big_integer(RubygemsLog::OwnerId))
                .col(big_integer(RubygemsLog::PackageId))
                .col(string(RubygemsLog::Entry))
                .col(string(RubygemsLog::InfoDigest))
                .col(timestamp_with_time_zone(RubygemsLog::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RubygemsLog::Table, RubygemsLog::OwnerId)
                        .to(Account::Table, Account::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(RubygemsLog::Table, RubygemsLog::PackageId)
                        .to(Package::Table, Package::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_rubygems_log_owner")
                .table(RubygemsLog::Table)
                .col(RubygemsLog::OwnerId)
                .col(RubygemsLog::Id)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RubygemsLog::Table).take())
            .await
    }
}
