//! The audit trail says where a change came from and whose it is: the client's address,
//! the access token that authenticated the request, the owner (user or organization) the
//! target belongs to (so an organization's log is one indexed range) and the target's name
//! as it was. Old rows keep nulls. Indexes serve the log's listings: an owner's or the
//! site's entries newest first, filtered by action or actor.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvent {
    Table,
    Id,
    ActorId,
    Action,
    SourceIp,
    TokenId,
    OwnerId,
    TargetName,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &[AuditEvent]); 3] = [
    (
        "ix_audit_event_owner",
        &[AuditEvent::OwnerId, AuditEvent::Id],
    ),
    (
        "ix_audit_event_action",
        &[AuditEvent::Action, AuditEvent::Id],
    ),
    (
        "ix_audit_event_actor",
        &[AuditEvent::ActorId, AuditEvent::Id],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            string_null(AuditEvent::SourceIp),
            big_integer_null(AuditEvent::TokenId),
            big_integer_null(AuditEvent::OwnerId),
            string_null(AuditEvent::TargetName),
        ] {
            let mut column = column;
            m.alter_table(
                Table::alter()
                    .table(AuditEvent::Table)
                    .add_column(&mut column)
                    .take(),
            )
            .await?;
        }
        for (name, columns) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(AuditEvent::Table);
            for c in columns {
                index.col(*c);
            }
            m.create_index(index.take()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            m.drop_index(Index::drop().name(name).table(AuditEvent::Table).to_owned())
                .await?;
        }
        for column in [
            AuditEvent::SourceIp,
            AuditEvent::TokenId,
            AuditEvent::OwnerId,
            AuditEvent::TargetName,
        ] {
            m.alter_table(
                Table::alter()
                    .table(AuditEvent::Table)
                    .drop_column(column)
                    .take(),
            )
            .await?;
        }
        Ok(())
    }
}
