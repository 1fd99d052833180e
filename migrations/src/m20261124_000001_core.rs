//! The core model: accounts, organizations, repositories, packages, versions, files, blobs,
//! tags, grants, tokens, download statistics and the audit log.
use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
    to_col: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

fn index(
    name: &str,
    table: impl IntoIden,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    if unique {
        stmt.unique();
    }
    stmt.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Account::Table)
                .col(big_pk_auto(Account::Id))
                .col(string_uniq(Account::Login))
                .col(string(Account::Kind))
                .col(string_null(Account::DisplayName))
                .col(string_null(Account::Email))
                .col(string_null(Account::PasswordHash))
                .col(boolean(Account::SiteAdmin).default(false))
                .col(string(Account::DefaultPackageVisibility).default("private"))
                .col(boolean(Account::DefaultInheritAccess).default(true))
                .col(boolean(Account::MembersCanCreatePackages).default(true))
                .col(timestamp_with_time_zone(Account::CreatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Membership::Table)
                .col(big_pk_auto(Membership::Id))
                .col(big_integer(Membership::OrganizationId))
                .col(big_integer(Membership::UserId))
                .col(string(Membership::Role))
                .col(timestamp_with_time_zone(Membership::CreatedAt))
                .foreign_key(&mut fk(
                    Membership::Table,
                    Membership::OrganizationId,
                    Account::Table,
                    Account::Id,
                ))
                .foreign_key(&mut fk(
                    Membership::Table,
                    Membership::UserId,
                    Account::Table,
                    Account::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_membership",
            Membership::Table,
            &["organization_id", "user_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_membership_user",
            Membership::Table,
            &["user_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Team::Table)
                .col(big_pk_auto(Team::Id))
                .col(big_integer(Team::OrganizationId))
                .col(string(Team::Slug))
                .col(string(Team::Name))
                .col(timestamp_with_time_zone(Team::CreatedAt))
                .foreign_key(&mut fk(
                    Team::Table,
                    Team::OrganizationId,
                    Account::Table,
                    Account::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_team_slug",
            Team::Table,
            &["organization_id", "slug"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(TeamMember::Table)
                .col(big_pk_auto(TeamMember::Id))
                .col(big_integer(TeamMember::TeamId))
                .col(big_integer(TeamMember::UserId))
                .col(timestamp_with_time_zone(TeamMember::CreatedAt))
                .foreign_key(&mut fk(
                    TeamMember::Table,
                    TeamMember::TeamId,
                    Team::Table,
                    Team::Id,
                ))
                .foreign_key(&mut fk(
                    TeamMember::Table,
                    TeamMember::UserId,
                    Account::Table,
                    Account::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_team_member",
            TeamMember::Table,
            &["team_id", "user_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_team_member_user",
            TeamMember::Table,
            &["user_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Repository::Table)
                .col(big_pk_auto(Repository::Id))
                .col(big_integer(Repository::OwnerId))
                .col(string(Repository::Name))
                .col(string(Repository::Visibility))
                .col(string_null(Repository::Description))
                .col(timestamp_with_time_zone(Repository::CreatedAt))
                .foreign_key(&mut fk(
                    Repository::Table,
                    Repository::OwnerId,
                    Account::Table,
                    Account::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_repository_name",
            Repository::Table,
            &["owner_id", "name"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(RepositoryCollaborator::Table)
                .col(big_pk_auto(RepositoryCollaborator::Id))
                .col(big_integer(RepositoryCollaborator::RepositoryId))
                .col(big_integer_null(RepositoryCollaborator::UserId))
                .col(big_integer_null(RepositoryCollaborator::TeamId))
                .col(string(RepositoryCollaborator::Role))
                .col(timestamp_with_time_zone(RepositoryCollaborator::CreatedAt))
                .foreign_key(&mut fk(
                    RepositoryCollaborator::Table,
                    RepositoryCollaborator::RepositoryId,
                    Repository::Table,
                    Repository::Id,
                ))
                .foreign_key(&mut fk(
                    RepositoryCollaborator::Table,
                    RepositoryCollaborator::UserId,
                    Account::Table,
                    Account::Id,
                ))
                .foreign_key(&mut fk(
                    RepositoryCollaborator::Table,
                    RepositoryCollaborator::TeamId,
                    Team::Table,
                    Team::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_repository_collaborator",
            RepositoryCollaborator::Table,
            &["repository_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Package::Table)
                .col(big_pk_auto(Package::Id))
                .col(big_integer(Package::OwnerId))
                .col(string(Package::Format))
                .col(string(Package::Name))
                .col(string(Package::Visibility))
                .col(big_integer_null(Package::RepositoryId))
                .col(boolean(Package::InheritAccess).default(true))
                .col(timestamp_with_time_zone(Package::CreatedAt))
                .col(timestamp_with_time_zone(Package::UpdatedAt))
                .col(timestamp_with_time_zone_null(Package::DeletedAt))
                .foreign_key(&mut fk(
                    Package::Table,
                    Package::OwnerId,
                    Account::Table,
                    Account::Id,
                ))
                .foreign_key(
                    ForeignKey::create()
                        .from(Package::Table, Package::RepositoryId)
                        .to(Repository::Table, Repository::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_package_owner",
            Package::Table,
            &["owner_id", "format", "name"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(PackageVersion::Table)
                .col(big_pk_auto(PackageVersion::Id))
                .col(big_integer(PackageVersion::PackageId))
                .col(string(PackageVersion::Version))
                .col(json(PackageVersion::Metadata))
                .col(string_null(PackageVersion::Summary))
                .col(text_null(PackageVersion::Readme))
                .col(string_null(PackageVersion::License))
                .col(boolean(PackageVersion::Prerelease).default(false))
                .col(boolean(PackageVersion::Yanked).default(false))
                .col(big_integer_null(PackageVersion::PublisherId))
                .col(timestamp_with_time_zone(PackageVersion::CreatedAt))
                .col(timestamp_with_time_zone(PackageVersion::UpdatedAt))
                .col(timestamp_with_time_zone_null(PackageVersion::DeletedAt))
                .foreign_key(&mut fk(
                    PackageVersion::Table,
                    PackageVersion::PackageId,
                    Package::Table,
                    Package::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_package_version",
            PackageVersion::Table,
            &["package_id", "version"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Blob::Table)
                .col(string(Blob::Digest).primary_key())
                .col(big_integer(Blob::Size))
                .col(string_null(Blob::Md5))
                .col(string_null(Blob::Sha1))
                .col(string_null(Blob::Sha512))
                .col(timestamp_with_time_zone(Blob::CreatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PackageFile::Table)
                .col(big_pk_auto(PackageFile::Id))
                .col(big_integer(PackageFile::VersionId))
                .col(string(PackageFile::Name))
                .col(string(PackageFile::BlobDigest))
                .col(big_integer(PackageFile::Size))
                .col(string(PackageFile::ContentType))
                .col(boolean(PackageFile::Lead).default(false))
                .col(timestamp_with_time_zone(PackageFile::CreatedAt))
                .col(timestamp_with_time_zone(PackageFile::UpdatedAt))
                .foreign_key(&mut fk(
                    PackageFile::Table,
                    PackageFile::VersionId,
                    PackageVersion::Table,
                    PackageVersion::Id,
                ))
                .foreign_key(
                    ForeignKey::create()
                        .from(PackageFile::Table, PackageFile::BlobDigest)
                        .to(Blob::Table, Blob::Digest)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_package_file",
            PackageFile::Table,
            &["version_id", "name"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_package_file_blob",
            PackageFile::Table,
            &["blob_digest"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(PackageTag::Table)
                .col(big_pk_auto(PackageTag::Id))
                .col(big_integer(PackageTag::PackageId))
                .col(string(PackageTag::Name))
                .col(big_integer(PackageTag::VersionId))
                .col(timestamp_with_time_zone(PackageTag::UpdatedAt))
                .foreign_key(&mut fk(
                    PackageTag::Table,
                    PackageTag::PackageId,
                    Package::Table,
                    Package::Id,
                ))
                .foreign_key(&mut fk(
                    PackageTag::Table,
                    PackageTag::VersionId,
                    PackageVersion::Table,
                    PackageVersion::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_package_tag",
            PackageTag::Table,
            &["package_id", "name"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_package_tag_version",
            PackageTag::Table,
            &["version_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(PackageGrant::Table)
                .col(big_pk_auto(PackageGrant::Id))
                .col(big_integer(PackageGrant::PackageId))
                .col(big_integer_null(PackageGrant::UserId))
                .col(big_integer_null(PackageGrant::TeamId))
                .col(big_integer_null(PackageGrant::RepositoryId))
                .col(string(PackageGrant::Role))
                .col(timestamp_with_time_zone(PackageGrant::CreatedAt))
                .foreign_key(&mut fk(
                    PackageGrant::Table,
                    PackageGrant::PackageId,
                    Package::Table,
                    Package::Id,
                ))
                .foreign_key(&mut fk(
                    PackageGrant::Table,
                    PackageGrant::UserId,
                    Account::Table,
                    Account::Id,
                ))
                .foreign_key(&mut fk(
                    PackageGrant::Table,
                    PackageGrant::TeamId,
                    Team::Table,
                    Team::Id,
                ))
                .foreign_key(&mut fk(
                    PackageGrant::Table,
                    PackageGrant::RepositoryId,
                    Repository::Table,
                    Repository::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_package_grant",
            PackageGrant::Table,
            &["package_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(DownloadDaily::Table)
                .col(big_pk_auto(DownloadDaily::Id))
                .col(big_integer(DownloadDaily::PackageId))
                .col(big_integer(DownloadDaily::VersionId))
                .col(date(DownloadDaily::Day))
                .col(big_integer(DownloadDaily::Count))
                .foreign_key(&mut fk(
                    DownloadDaily::Table,
                    DownloadDaily::PackageId,
                    Package::Table,
                    Package::Id,
                ))
                .foreign_key(&mut fk(
                    DownloadDaily::Table,
                    DownloadDaily::VersionId,
                    PackageVersion::Table,
                    PackageVersion::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ux_download_daily",
            DownloadDaily::Table,
            &["version_id", "day"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_download_daily_package",
            DownloadDaily::Table,
            &["package_id", "day"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(AccessToken::Table)
                .col(big_pk_auto(AccessToken::Id))
                .col(big_integer_null(AccessToken::UserId))
                .col(big_integer_null(AccessToken::RepositoryId))
                .col(string(AccessToken::Name))
                .col(string(AccessToken::DisplayPrefix))
                .col(string_uniq(AccessToken::TokenHash))
                .col(string(AccessToken::Scopes))
                .col(string_null(AccessToken::OwnerLogin))
                .col(string_null(AccessToken::PackagePatterns))
                .col(timestamp_with_time_zone_null(AccessToken::ExpiresAt))
                .col(timestamp_with_time_zone_null(AccessToken::LastUsedAt))
                .col(timestamp_with_time_zone_null(AccessToken::RevokedAt))
                .col(timestamp_with_time_zone(AccessToken::CreatedAt))
                .foreign_key(&mut fk(
                    AccessToken::Table,
                    AccessToken::UserId,
                    Account::Table,
                    Account::Id,
                ))
                .foreign_key(&mut fk(
                    AccessToken::Table,
                    AccessToken::RepositoryId,
                    Repository::Table,
                    Repository::Id,
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "ix_access_token_user",
            AccessToken::Table,
            &["user_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(AuditEvent::Table)
                .col(big_pk_auto(AuditEvent::Id))
                .col(big_integer_null(AuditEvent::ActorId))
                .col(string(AuditEvent::Action))
                .col(string(AuditEvent::TargetType))
                .col(big_integer_null(AuditEvent::TargetId))
                .col(json(AuditEvent::Data))
                .col(timestamp_with_time_zone(AuditEvent::CreatedAt))
                .take(),
        )
        .await?;

        // A live name is unique; a soft-deleted package or version keeps its row (for
        // restore) while the name is free to be taken again. Partial indexes say exactly
        // that on both SQLite and PostgreSQL.
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_package_live ON package (owner_id, format, name) WHERE deleted_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_package_version_live ON package_version (package_id, version) WHERE deleted_at IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvent::Table.into_iden(),
            AccessToken::Table.into_iden(),
            DownloadDaily::Table.into_iden(),
            PackageGrant::Table.into_iden(),
            PackageTag::Table.into_iden(),
            PackageFile::Table.into_iden(),
            Blob::Table.into_iden(),
            PackageVersion::Table.into_iden(),
            Package::Table.into_iden(),
            RepositoryCollaborator::Table.into_iden(),
            Repository::Table.into_iden(),
            TeamMember::Table.into_iden(),
            Team::Table.into_iden(),
            Membership::Table.into_iden(),
            Account::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
