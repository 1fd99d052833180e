//! Value types shared by every layer: package types, visibility, roles.
use std::{fmt, str::FromStr};

use crate::error::DomainError;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The lower-case form stored in the database and used by REST and webhooks.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                match s.to_ascii_lowercase().as_str() {
                    $($text => Ok(Self::$variant),)+
                    other => Err(DomainError::invalid(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), other
                    ))),
                }
            }
        }
    };
}

string_enum!(
    /// The format of a package. Gradle packages are `Maven`.
    PackageType {
        Generic => "generic",
        Container => "container",
        Npm => "npm",
        Maven => "maven",
        Rubygems => "rubygems",
        Nuget => "nuget",
    }
);

string_enum!(
    /// Who may read a package.
    Visibility {
        Public => "public",
        Internal => "internal",
        Private => "private",
    }
);

string_enum!(
    /// A role on a package; ordered so `Admin > Write > Read`.
    Role {
        Read => "read",
        Write => "write",
        Admin => "admin",
    }
);

string_enum!(
    /// A collaborator's role on a repository (GitHub's five).
    RepositoryRole {
        Read => "read",
        Triage => "triage",
        Write => "write",
        Maintain => "maintain",
        Admin => "admin",
    }
);

string_enum!(
    /// A user's role in an organization.
    OrgRole {
        Member => "member",
        Owner => "owner",
    }
);

string_enum!(
    AccountKind {
        User => "user",
        Organization => "organization",
    }
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
