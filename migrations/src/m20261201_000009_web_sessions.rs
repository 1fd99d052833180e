//! Browser sessions of the web UI: one row per signed-in browser. Only the SHA-256 of the
//! session secret is stored (the cookie holds the secret), so a database leak signs no one
//! in. A row is revoked (sign-out, "revoke" on the account page) or expires; either way it
//! stops authenticating at once.
use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::Account;

#[derive(DeriveIden)]
enum WebSession {
    Table,
    Id,
    UserId,
    SecretHash,
    UserAgent,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WebSession::Table)
                .col(big_pk_auto(WebSession::Id))
                .col(big_integer(WebSession::UserId))
                .col(string_uniq(WebSession::SecretHash))
                .col(string_null(WebSession::UserAgent))
                .col(timestamp_with_time_zone(WebSession::CreatedAt))
                .col(timestamp_with_time_zone(WebSession::LastSeenAt))
                .col(timestamp_with_time_zone(WebSession::ExpiresAt))
                .col(timestamp_with_time_zone_null(WebSession::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(WebSession::Table, WebSession::UserId)
                        .to(Account::Table, Account::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_web_session_user")
                .table(WebSession::Table)
                .col(WebSession::UserId)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebSession::Table).take())
            .await
    }
}
