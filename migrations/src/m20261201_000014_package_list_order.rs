//! Package lists are read a page at a time in one of three orders (created, updated, name;
//! ties by id): an index per order lets a page stop after its rows instead of sorting the
//! whole table first.
use sea_orm_migration::prelude::*;

#[derive(DeriveIden, Clone, Copy)]
enum Package {
    Table,
    Id,
    CreatedAt,
    UpdatedAt,
    Name,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, Package); 3] = [
    ("ix_package_created", Package::CreatedAt),
    ("ix_package_updated", Package::UpdatedAt),
    ("ix_package_name_order", Package::Name),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in INDEXES {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Package::Table)
                    .col(column)
                    .col(Package::Id)
                    .take(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            m.drop_index(Index::drop().name(name).table(Package::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
