//! Table and column names shared by the migrations.
use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
pub enum Account {
    Table,
    Id,
    Login,
    Kind,
    DisplayName,
    Email,
    PasswordHash,
    SiteAdmin,
    DefaultPackageVisibility,
    DefaultInheritAccess,
    MembersCanCreatePackages,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Membership {
    Table,
    Id,
    OrganizationId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Team {
    Table,
    Id,
    OrganizationId,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum TeamMember {
    Table,
    Id,
    TeamId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Repository {
    Table,
    Id,
    OwnerId,
    Name,
    Visibility,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum RepositoryCollaborator {
    Table,
    Id,
    RepositoryId,
    UserId,
    TeamId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Package {
    Table,
    Id,
    OwnerId,
    Format,
    Name,
    /// The name's identity (`FormatRules::name_key`); migration 5.
    NameKey,
    Visibility,
    RepositoryId,
    InheritAccess,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
pub enum PackageVersion {
    Table,
    Id,
    PackageId,
    Version,
    Metadata,
    Summary,
    Readme,
    License,
    Prerelease,
    Yanked,
    PublisherId,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
pub enum PackageFile {
    Table,
    Id,
    VersionId,
    Name,
    BlobDigest,
    Size,
    ContentType,
    Lead,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum PackageTag {
    Table,
    Id,
    PackageId,
    Name,
    VersionId,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum PackageGrant {
    Table,
    Id,
    PackageId,
    UserId,
    TeamId,
    RepositoryId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Blob {
    Table,
    Digest,
    Size,
    Md5,
    Sha1,
    Sha512,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum DownloadDaily {
    Table,
    Id,
    PackageId,
    VersionId,
    Day,
    Count,
}

#[derive(DeriveIden)]
pub enum AccessToken {
    Table,
    Id,
    UserId,
    RepositoryId,
    Name,
    DisplayPrefix,
    TokenHash,
    Scopes,
    OwnerLogin,
    PackagePatterns,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum AuditEvent {
    Table,
    Id,
    ActorId,
    Action,
    TargetType,
    TargetId,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum UploadSession {
    Table,
    Id,
    OwnerId,
    Name,
    Size,
    Parts,
    FirstPartSha256,
    CreatedAt,
    UpdatedAt,
    PartNonces,
}

#[derive(DeriveIden)]
pub enum ImageBlob {
    Table,
    Id,
    OwnerId,
    Name,
    Digest,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum ImageReferrer {
    Table,
    VersionId,
    PackageId,
    Subject,
}

#[derive(DeriveIden)]
pub enum RubygemsLog {
    Table,
    Id,
    OwnerId,
    PackageId,
    Entry,
    InfoDigest,
    CreatedAt,
}
