//! The referrers index: which manifests of an image name a `subject` (signatures, SBOMs,
//! attestations), so the referrers API reads only those instead of every version.
use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, FromQueryResult, JsonValue},
};

use crate::iden::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(FromQueryResult)]
struct ContainerVersion {
    id: i64,
    package_id: i64,
    metadata: JsonValue,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ImageReferrer::Table)
                .col(big_integer(ImageReferrer::VersionId).primary_key())
                .col(big_integer(ImageReferrer::PackageId))
                .col(string(ImageReferrer::Subject))
                .foreign_key(
                    ForeignKey::create()
                        .from(ImageReferrer::Table, ImageReferrer::VersionId)
                        .to(PackageVersion::Table, PackageVersion::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ImageReferrer::Table, ImageReferrer::PackageId)
                        .to(Package::Table, Package::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_image_referrer_subject")
                .table(ImageReferrer::Table)
                .col(ImageReferrer::PackageId)
                .col(ImageReferrer::Subject)
                .take(),
        )
        .await?;
        // Index the manifests already stored.
        let db = m.get_connection();
        let backend = m.get_database_backend();
        let select = Query::select()
            .column((PackageVersion::Table, PackageVersion::Id))
            .column((PackageVersion::Table, PackageVersion::PackageId))
            .column((PackageVersion::Table, PackageVersion::Metadata))
            .from(PackageVersion::Table)
            .inner_join(
                Package::Table,
                Expr::col((Package::Table, Package::Id))
                    .equals((PackageVersion::Table, PackageVersion::PackageId)),
            )
            .and_where(Expr::col((Package::Table, Package::Format)).eq("container"))
            .take();
        let versions = ContainerVersion::find_by_statement(backend.build(&select))
            .all(db)
            .await?;
        for v in versions {
            let Some(subject) = v.metadata.get("subject").and_then(JsonValue::as_str) else {
                continue;
            };
            let insert = Query::insert()
                .into_table(ImageReferrer::Table)
                .columns([
                    ImageReferrer::VersionId,
                    ImageReferrer::PackageId,
                    ImageReferrer::Subject,
                ])
                .values_panic([v.id.into(), v.package_id.into(), subject.into()])
                .take();
            db.execute(&insert).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ImageReferrer::Table).take())
            .await
    }
}
