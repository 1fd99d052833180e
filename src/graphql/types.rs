//! GraphQL enums mirroring the domain's, UPPER_CASE as GitHub's API spells them.
use async_graphql::Enum;

use crate::domain::{self, State};

macro_rules! mirror {
    ($(#[$doc:meta])* $gql:ident => $dom:path { $($v:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
        pub enum $gql { $($v),+ }

        impl From<$gql> for $dom {
            fn from(v: $gql) -> Self {
                match v { $($gql::$v => <$dom>::$v),+ }
            }
        }

        impl From<$dom> for $gql {
            fn from(v: $dom) -> Self {
                match v { $(<$dom>::$v => $gql::$v),+ }
            }
        }
    };
}

mirror!(
    /// The format of a package; Gradle packages are `MAVEN`.
    PackageType => domain::PackageType { Generic, Container, Npm, Maven, Rubygems, Nuget }
);
mirror!(
    /// Who may read a package.
    PackageVisibility => domain::Visibility { Public, Internal, Private }
);
mirror!(
    /// A role on a package.
    PackageRole => domain::Role { Read, Write, Admin }
);
mirror!(
    /// A collaborator's role on a repository.
    RepositoryRole => domain::RepositoryRole { Read, Triage, Write, Maintain, Admin }
);
mirror!(
    /// A member's role in an organization.
    OrganizationRole => domain::OrgRole { Member, Owner }
);

/// Live or soft-deleted.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum PackageState {
    #[default]
    Active,
    Deleted,
}

impl From<PackageState> for State {
    fn from(s: PackageState) -> Self {
        match s {
            PackageState::Active => State::Active,
            PackageState::Deleted => State::Deleted,
        }
    }
}

/// How to order packages.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum PackageOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Name,
}

impl From<PackageOrderField> for domain::packages::PackageOrder {
    fn from(f: PackageOrderField) -> Self {
        match f {
            PackageOrderField::CreatedAt => Self::CreatedDesc,
            PackageOrderField::UpdatedAt => Self::UpdatedDesc,
            PackageOrderField::Name => Self::NameAsc,
        }
    }
}
