//! GraphQL enums mirroring the domain's, UPPER_CASE as GitHub's API spells them.
use async_graphql::{Enum, InputObject};

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

/// The format of a package; Gradle packages are `MAVEN`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PackageType {
    Generic,
    Container,
    Npm,
    Maven,
    Rubygems,
    Nuget,
    /// GitHub's name for images before `CONTAINER`: accepted as `CONTAINER` (and answered as
    /// `CONTAINER`).
    #[graphql(deprecation = "Use CONTAINER: DOCKER names the same packages.")]
    Docker,
}

impl From<PackageType> for domain::PackageType {
    fn from(v: PackageType) -> Self {
        match v {
            PackageType::Generic => Self::Generic,
            PackageType::Container | PackageType::Docker => Self::Container,
            PackageType::Npm => Self::Npm,
            PackageType::Maven => Self::Maven,
            PackageType::Rubygems => Self::Rubygems,
            PackageType::Nuget => Self::Nuget,
        }
    }
}

impl From<domain::PackageType> for PackageType {
    fn from(v: domain::PackageType) -> Self {
        match v {
            domain::PackageType::Generic => Self::Generic,
            domain::PackageType::Container => Self::Container,
            domain::PackageType::Npm => Self::Npm,
            domain::PackageType::Maven => Self::Maven,
            domain::PackageType::Rubygems => Self::Rubygems,
            domain::PackageType::Nuget => Self::Nuget,
        }
    }
}
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

/// What packages are ordered by (GitHub has `CREATED_AT`; we add the others).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum PackageOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Name,
}

/// Ascending or descending, as GitHub's `OrderDirection`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum OrderDirection {
    Asc,
    Desc,
}

/// GitHub's `PackageOrder`: `{field, direction}`. Without a direction, dates run newest
/// first and names A to Z.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct PackageOrder {
    pub field: Option<PackageOrderField>,
    pub direction: Option<OrderDirection>,
}

impl From<PackageOrder> for domain::packages::PackageOrder {
    fn from(o: PackageOrder) -> Self {
        use OrderDirection::{Asc, Desc};
        match (o.field.unwrap_or_default(), o.direction) {
            (PackageOrderField::CreatedAt, None | Some(Desc)) => Self::CreatedDesc,
            (PackageOrderField::CreatedAt, Some(Asc)) => Self::CreatedAsc,
            (PackageOrderField::UpdatedAt, None | Some(Desc)) => Self::UpdatedDesc,
            (PackageOrderField::UpdatedAt, Some(Asc)) => Self::UpdatedAsc,
            (PackageOrderField::Name, None | Some(Asc)) => Self::NameAsc,
            (PackageOrderField::Name, Some(Desc)) => Self::NameDesc,
        }
    }
}

/// What versions are ordered by (GitHub's `PackageVersionOrderField`).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum PackageVersionOrderField {
    #[default]
    CreatedAt,
}

/// GitHub's `PackageVersionOrder`: newest first unless `direction: ASC`.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct PackageVersionOrder {
    pub field: Option<PackageVersionOrderField>,
    pub direction: Option<OrderDirection>,
}

impl From<PackageVersionOrder> for domain::packages::VersionOrder {
    fn from(o: PackageVersionOrder) -> Self {
        match o.direction {
            Some(OrderDirection::Asc) => Self::OldestFirst,
            None | Some(OrderDirection::Desc) => Self::NewestFirst,
        }
    }
}

/// What files are ordered by (GitHub's `PackageFileOrderField`).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum PackageFileOrderField {
    #[default]
    CreatedAt,
}

/// GitHub's `PackageFileOrder`: oldest first unless `direction: DESC`.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct PackageFileOrder {
    pub field: Option<PackageFileOrderField>,
    pub direction: Option<OrderDirection>,
}
