//! Container images: resumable upload sessions (shared by replicas, surviving restarts)
//! and the blobs linked to an image before a manifest refers to them.
use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UploadSession::Table)
                .col(string(UploadSession::Id).primary_key())
                .col(big_integer(UploadSession::OwnerId))
                .col(string(UploadSession::Name))
                .col(big_integer(UploadSession::Size))
                .col(integer(UploadSession::Parts))
                .col(string_null(UploadSession::FirstPartSha256))
                .col(timestamp_with_time_zone(UploadSession::CreatedAt))
                .col(timestamp_with_time_zone(UploadSession::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(UploadSession::Table, UploadSession::OwnerId)
                        .to(Account::Table, Account::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_upload_session_updated")
                .table(UploadSession::Table)
                .col(UploadSession::UpdatedAt)
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ImageBlob::Table)
                .col(big_pk_auto(ImageBlob::Id))
                .col(big_integer(ImageBlob::OwnerId))
                .col(string(ImageBlob::Name))
                .col(string(ImageBlob::Digest))
                .col(timestamp_with_time_zone(ImageBlob::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ImageBlob::Table, ImageBlob::OwnerId)
                        .to(Account::Table, Account::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ImageBlob::Table, ImageBlob::Digest)
                        .to(Blob::Table, Blob::Digest)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_image_blob")
                .table(ImageBlob::Table)
                .col(ImageBlob::OwnerId)
                .col(ImageBlob::Name)
                .col(ImageBlob::Digest)
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_blob_sha512")
                .table(Blob::Table)
                .col(Blob::Sha512)
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_blob_sha512")
                .table(Blob::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(ImageBlob::Table).take())
            .await?;
        m.drop_table(Table::drop().table(UploadSession::Table).take())
            .await?;
        Ok(())
    }
}
