//! Chunks of an upload stay where they were written: the session records each part's key
//! (its nonce) instead of renaming it into place, which on S3 is a full copy.
use sea_orm_migration::prelude::*;

use crate::iden::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(UploadSession::Table)
                .add_column(ColumnDef::new(UploadSession::PartNonces).text().null())
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(UploadSession::Table)
                .drop_column(UploadSession::PartNonces)
                .take(),
        )
        .await
    }
}
