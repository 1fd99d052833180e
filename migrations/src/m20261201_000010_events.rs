//! Package events and webhooks: `package_event` (one row per committed change, written in
//! its transaction), `webhook` (per owner or repository) and `webhook_delivery` (the
//! outbox: one row per matching hook, written with the event, claimed by the worker).
use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::{Account, Package, Repository};

#[derive(DeriveIden)]
enum PackageEvent {
    Table,
    Id,
    Kind,
    PackageId,
    VersionId,
    OwnerId,
    ActorId,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Webhook {
    Table,
    Id,
    OwnerId,
    RepositoryId,
    Url,
    Secret,
    ContentType,
    Events,
    Active,
    InsecureSsl,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    WebhookId,
    Guid,
    Event,
    Action,
    EventId,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    ResponseCode,
    DurationMs,
    RequestHeaders,
    ResponseExcerpt,
    Error,
    Redelivery,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PackageEvent::Table)
                .col(big_pk_auto(PackageEvent::Id))
                .col(string(PackageEvent::Kind))
                .col(big_integer(PackageEvent::PackageId))
                .col(big_integer_null(PackageEvent::VersionId))
                .col(big_integer(PackageEvent::OwnerId))
                .col(big_integer_null(PackageEvent::ActorId))
                .col(json(PackageEvent::Payload))
                .col(timestamp_with_time_zone(PackageEvent::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(PackageEvent::Table, PackageEvent::PackageId)
                        .to(Package::Table, Package::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_package_event_owner")
                .table(PackageEvent::Table)
                .col(PackageEvent::OwnerId)
                .col(PackageEvent::Id)
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Webhook::Table)
                .col(big_pk_auto(Webhook::Id))
                .col(big_integer(Webhook::OwnerId))
                .col(big_integer_null(Webhook::RepositoryId))
                .col(string(Webhook::Url))
                .col(string_null(Webhook::Secret))
                .col(string(Webhook::ContentType))
                .col(json(Webhook::Events))
                .col(boolean(Webhook::Active))
                .col(boolean(Webhook::InsecureSsl))
                .col(timestamp_with_time_zone(Webhook::CreatedAt))
                .col(timestamp_with_time_zone(Webhook::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Webhook::Table, Webhook::OwnerId)
                        .to(Account::Table, Account::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Webhook::Table, Webhook::RepositoryId)
                        .to(Repository::Table, Repository::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_owner")
                .table(Webhook::Table)
                .col(Webhook::OwnerId)
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDelivery::Table)
                .col(big_pk_auto(WebhookDelivery::Id))
                .col(big_integer(WebhookDelivery::WebhookId))
                .col(uuid(WebhookDelivery::Guid))
                .col(string(WebhookDelivery::Event))
                .col(string_null(WebhookDelivery::Action))
                .col(big_integer_null(WebhookDelivery::EventId))
                .col(json(WebhookDelivery::Payload))
                .col(string(WebhookDelivery::Status))
                .col(integer(WebhookDelivery::Attempts))
                .col(timestamp_with_time_zone(WebhookDelivery::NextAttemptAt))
                .col(timestamp_with_time_zone_null(WebhookDelivery::ClaimedUntil))
                .col(integer_null(WebhookDelivery::ResponseCode))
                .col(big_integer_null(WebhookDelivery::DurationMs))
                .col(json_null(WebhookDelivery::RequestHeaders))
                .col(text_null(WebhookDelivery::ResponseExcerpt))
                .col(text_null(WebhookDelivery::Error))
                .col(boolean(WebhookDelivery::Redelivery))
                .col(timestamp_with_time_zone(WebhookDelivery::CreatedAt))
                .col(timestamp_with_time_zone_null(WebhookDelivery::DeliveredAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(WebhookDelivery::Table, WebhookDelivery::WebhookId)
                        .to(Webhook::Table, Webhook::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_delivery_due")
                .table(WebhookDelivery::Table)
                .col(WebhookDelivery::Status)
                .col(WebhookDelivery::NextAttemptAt)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_delivery_hook")
                .table(WebhookDelivery::Table)
                .col(WebhookDelivery::WebhookId)
                .col(WebhookDelivery::Id)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebhookDelivery::Table).take())
            .await?;
        m.drop_table(Table::drop().table(Webhook::Table).take())
            .await?;
        m.drop_table(Table::drop().table(PackageEvent::Table).take())
            .await
    }
}
