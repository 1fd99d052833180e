//! What the domain hands to doors: plain structs, never database models.
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::types::{AccountKind, OrgRole, PackageType, RepositoryRole, Role, Visibility};

#[derive(Clone, Debug)]
pub struct AccountInfo {
    pub id: i64,
    pub login: String,
    pub kind: AccountKind,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub site_admin: bool,
    pub default_package_visibility: Visibility,
    pub default_inherit_access: bool,
    pub members_can_create_packages: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct MemberInfo {
    pub user: AccountInfo,
    pub role: OrgRole,
}

#[derive(Clone, Debug)]
pub struct TeamInfo {
    pub id: i64,
    pub organization_id: i64,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct RepositoryInfo {
    pub id: i64,
    pub owner_id: i64,
    pub owner_login: String,
    pub name: String,
    pub visibility: Visibility,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct CollaboratorInfo {
    pub user_id: Option<i64>,
    pub team_id: Option<i64>,
    pub role: RepositoryRole,
}

#[derive(Clone, Debug)]
pub struct PackageInfo {
    pub id: i64,
    pub owner_id: i64,
    pub owner_login: String,
    pub package_type: PackageType,
    pub name: String,
    pub visibility: Visibility,
    pub repository_id: Option<i64>,
    pub inherit_access: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The caller's effective role (`None`: may read only because of visibility).
    pub viewer_role: Option<Role>,
}

#[derive(Clone, Debug)]
pub struct VersionInfo {
    pub id: i64,
    pub package_id: i64,
    pub version: String,
    pub metadata: crate::domain::metadata::VersionMetadata,
    pub summary: Option<String>,
    pub readme: Option<String>,
    pub license: Option<String>,
    pub prerelease: bool,
    pub yanked: bool,
    pub publisher_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct FileInfo {
    pub id: i64,
    pub version_id: i64,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub lead: bool,
    pub sha256: String,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha512: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct TagInfo {
    pub id: i64,
    pub package_id: i64,
    pub name: String,
    pub version_id: i64,
    pub version: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct GrantInfo {
    pub id: i64,
    pub package_id: i64,
    pub user_id: Option<i64>,
    pub team_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct TokenInfo {
    pub id: i64,
    pub user_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub name: String,
    pub display_prefix: String,
    pub scopes: Vec<String>,
    pub owner_login: Option<String>,
    pub package_patterns: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyDownloads {
    pub day: NaiveDate,
    pub count: i64,
}
