//! The authenticated caller of a request.
use std::fmt;

/// A token scope. Unknown scope strings are refused when a token is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    ReadPackages,
    WritePackages,
    DeletePackages,
    /// Manage organizations, teams and memberships.
    AdminOrg,
    /// Manage the user's own account: tokens, repositories.
    User,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Self::ReadPackages,
        Self::WritePackages,
        Self::DeletePackages,
        Self::AdminOrg,
        Self::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadPackages => "read:packages",
            Self::WritePackages => "write:packages",
            Self::DeletePackages => "delete:packages",
            Self::AdminOrg => "admin:org",
            Self::User => "user",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub fn all() -> Self {
        Scope::ALL.iter().fold(Self::default(), |s, x| s.with(*x))
    }

    pub fn with(self, scope: Scope) -> Self {
        Self(self.0 | scope.bit())
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Parses `read:packages,write:packages`; unknown names are an error.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut scopes = Self::default();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let scope = Scope::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| format!("unknown scope {name:?} (known: read:packages, write:packages, delete:packages, admin:org, user)"))?;
            scopes = scopes.with(scope);
        }
        Ok(scopes)
    }

    pub fn names(self) -> Vec<&'static str> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(Scope::as_str)
            .collect()
    }

    /// Reading packages is allowed by any package scope (writing implies reading, as on GitHub).
    pub fn can_read_packages(self) -> bool {
        self.contains(Scope::ReadPackages)
            || self.contains(Scope::WritePackages)
            || self.contains(Scope::DeletePackages)
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// What a token allows, beyond the identity it acts as.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    pub token_id: i64,
    pub scopes: Scopes,
    /// Fine-grained: the only owner the token may touch.
    pub owner_login: Option<String>,
    /// Fine-grained: package-name glob patterns the token may touch.
    pub package_patterns: Option<Vec<String>>,
}

impl TokenGrant {
    /// Whether a fine-grained restriction lets the token touch this package.
    pub fn covers(&self, owner_login: &str, package_name: &str) -> bool {
        if let Some(owner) = &self.owner_login
            && !owner.eq_ignore_ascii_case(owner_login)
        {
            return false;
        }
        match &self.package_patterns {
            Some(patterns) => patterns.iter().any(|p| glob_match(p, package_name)),
            None => true,
        }
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The caller of a request, as authenticated by the domain.
#[derive(Clone, Debug)]
pub enum Actor {
    Anonymous,
    User {
        id: i64,
        login: String,
        site_admin: bool,
        /// `None` when the user acts without a token (CLI, internal calls): all scopes.
        token: Option<TokenGrant>,
    },
    /// A repository's CI token: it may do what the repository was granted.
    Repository {
        repository_id: i64,
        owner_id: i64,
        token: TokenGrant,
    },
}

impl Actor {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Self::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Self::Anonymous)
    }

    pub fn site_admin(&self) -> bool {
        matches!(
            self,
            Self::User {
                site_admin: true,
                ..
            }
        )
    }

    pub fn token(&self) -> Option<&TokenGrant> {
        match self {
            Self::Anonymous => None,
            Self::User { token, .. } => token.as_ref(),
            Self::Repository { token, .. } => Some(token),
        }
    }

    /// The scopes the actor holds (everything for a user acting without a token).
    pub fn scopes(&self) -> Scopes {
        match self {
            Self::Anonymous => Scopes::default(),
            _ => self.token().map_or_else(Scopes::all, |t| t.scopes),
        }
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes().contains(scope)
    }

    /// A short description for logs and the audit trail.
    pub fn describe(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".into(),
            Self::User { login, .. } => login.clone(),
            Self::Repository { repository_id, .. } => format!("repository#{repository_id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("web-*", "web-ui"));
        assert!(!glob_match("web-*", "api"));
        assert!(glob_match("*-lib", "core-lib"));
        assert!(glob_match("a*b*c", "a-x-b-y-c"));
        assert!(!glob_match("a*b*c", "a-c-b"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn scopes_parse_and_imply_read() {
        let s = Scopes::parse("write:packages, delete:packages").expect("valid");
        assert!(s.can_read_packages());
        assert!(!s.contains(Scope::ReadPackages));
        assert!(Scopes::parse("write:everything").is_err());
        assert_eq!(
            Scopes::parse("read:packages").expect("valid").names(),
            vec!["read:packages"]
        );
    }
}
