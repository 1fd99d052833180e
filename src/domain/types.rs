//! Value types shared by every layer: package types, visibility, roles.
use std::str::FromStr;

use crate::error::DomainError;

/// The message every string enum gives for an unknown value, as the enum's name and the
/// lower-cased input: REST, GraphQL and the CLI have shown it in this form since the start.
fn unknown(name: &str, s: &str) -> DomainError {
    DomainError::invalid(format!("unknown {name} {:?}", s.to_ascii_lowercase()))
}

/// The format of a package. Gradle packages are `Maven`.
///
/// Stored, and shown by REST and webhooks, in lower case; parsed case-insensitively.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(
    serialize_all = "lowercase",
    ascii_case_insensitive,
    parse_err_ty = DomainError,
    parse_err_fn = unknown_package_type
)]
pub enum PackageType {
    Generic,
    Container,
    Npm,
    Maven,
    Rubygems,
    Nuget,
}

fn unknown_package_type(s: &str) -> DomainError {
    unknown("PackageType", s)
}

/// Who may read a package.
///
/// Stored, and shown by REST and webhooks, in lower case; parsed case-insensitively.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(
    serialize_all = "lowercase",
    ascii_case_insensitive,
    parse_err_ty = DomainError,
    parse_err_fn = unknown_visibility
)]
pub enum Visibility {
    Public,
    Internal,
    Private,
}

fn unknown_visibility(s: &str) -> DomainError {
    unknown("Visibility", s)
}

/// A role on a package; ordered so `Admin > Write > Read`.
///
/// Stored, and shown by REST and webhooks, in lower case; parsed case-insensitively.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(
    serialize_all = "lowercase",
    ascii_case_insensitive,
    parse_err_ty = DomainError,
    parse_err_fn = unknown_role
)]
pub enum Role {
    Read,
    Write,
    Admin,
}

fn unknown_role(s: &str) -> DomainError {
    unknown("Role", s)
}

/// A collaborator's role on a repository (GitHub's five).
///
/// Stored, and shown by REST and webhooks, in lower case; parsed case-insensitively.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(
    serialize_all = "lowercase",
    ascii_case_insensitive,
    parse_err_ty = DomainError,
    parse_err_fn = unknown_repository_role
)]
pub enum RepositoryRole {
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

fn unknown_repository_role(s: &str) -> DomainError {
    unknown("RepositoryRole", s)
}

/// A user's role in an organization.
///
/// Stored, and shown by REST and webhooks, in lower case; parsed case-insensitively.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(
    serialize_all = "lowercase",
    ascii_case_insensitive,
    parse_err_ty = DomainError,
    parse_err_fn = unknown_org_role
)]
pub enum OrgRole {
    Member,
    Owner,
}

fn unknown_org_role(s: &str) -> DomainError {
    unknown("OrgRole", s)
}

/// Whether an account is a user or an organization.
///
/// Stored, and shown by REST and webhooks, in lower case; parsed case-insensitively.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(
    serialize_all = "lowercase",
    ascii_case_insensitive,
    parse_err_ty = DomainError,
    parse_err_fn = unknown_account_kind
)]
pub enum AccountKind {
    User,
    Organization,
}

fn unknown_account_kind(s: &str) -> DomainError {
    unknown("AccountKind", s)
}

/// `as_str` for each string enum: the lower-case form stored in the database and used by
/// REST and webhooks.
macro_rules! as_str {
    ($($name:ident),+) => {$(
        impl $name {
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    )+};
}
as_str!(
    PackageType,
    Visibility,
    Role,
    RepositoryRole,
    OrgRole,
    AccountKind
);

impl RepositoryRole {
    /// The package role a repository role gives through inheritance.
    pub fn package_role(self) -> Role {
        match self {
            Self::Read | Self::Triage => Role::Read,
            Self::Write | Self::Maintain => Role::Write,
            Self::Admin => Role::Admin,
        }
    }
}

/// Whether to list live or soft-deleted things.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    Active,
    Deleted,
}

/// Internal storage of enums that were validated on the way in; a bad value in the
/// database is an internal error, not user input.
pub fn parse_stored<T: FromStr<Err = DomainError>>(s: &str) -> Result<T, DomainError> {
    s.parse()
        .map_err(|_| DomainError::internal(format!("unexpected stored value {s:?}")))
}

#[cfg(test)]
mod tests {
    use strum::VariantArray;

    use super::*;

    #[test]
    fn string_enums_round_trip() {
        for t in PackageType::VARIANTS {
            assert_eq!(t.as_str().parse::<PackageType>().ok(), Some(*t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert_eq!(
            "NuGet".parse::<PackageType>().ok(),
            Some(PackageType::Nuget)
        );
        assert_eq!(PackageType::Rubygems.as_str(), "rubygems");
        assert_eq!(RepositoryRole::Maintain.as_str(), "maintain");
        assert_eq!("OWNER".parse::<OrgRole>().ok(), Some(OrgRole::Owner));
        let err = "PyPI".parse::<PackageType>().err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("unknown PackageType \"pypi\""));
        let err = "nobody".parse::<Visibility>().err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("unknown Visibility \"nobody\""));
        let err = "x".parse::<AccountKind>().err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("unknown AccountKind \"x\""));
        assert!(Role::Admin > Role::Write && Role::Write > Role::Read);
    }
}
