//! Validated identifiers. Their constructors are the only way in, and they run in the door
//! before any I/O, so no path, key or query is ever built from an unchecked name.
use std::fmt;

use crate::error::{DomainError, DomainResult};

macro_rules! newtype {
    ($name:ident) => {
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

newtype!(OwnerName);
newtype!(PackageName);
newtype!(VersionName);
newtype!(FileName);

fn no_controls(what: &str, s: &str) -> DomainResult<()> {
    if s.chars().any(|c| c.is_control()) {
        return Err(DomainError::invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

impl OwnerName {
    /// A user or organization login: 1–39 of `a-z0-9-`, no leading/trailing hyphen (GitHub's
    /// rule). Logins compare case-insensitively, so they are stored lower-case.
    pub fn parse(s: &str) -> DomainResult<Self> {
        let lower = s.to_ascii_lowercase();
        let ok = !lower.is_empty()
            && lower.len() <= 39
            && lower
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !lower.starts_with('-')
            && !lower.ends_with('-');
        if !ok {
            return Err(DomainError::invalid(format!(
                "invalid login {s:?}: use 1-39 letters, digits or hyphens, not starting or ending with a hyphen"
            )));
        }
        Ok(Self(lower))
    }
}

impl PackageName {
    /// A package name as every format may store it: 1–255 printable characters, segments
    /// separated by `/` (container images nest), none of them empty, `.` or `..`.
    /// Doors apply their own, stricter grammar first.
    pub fn parse(s: &str) -> DomainResult<Self> {
        no_controls("package name", s)?;
        if s.is_empty() || s.len() > 255 {
            return Err(DomainError::invalid(
                "package name must be 1 to 255 characters",
            ));
        }
        if s.split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return Err(DomainError::invalid(format!("invalid package name {s:?}")));
        }
        if s.chars().any(|c| c.is_whitespace() || c == '\\') {
            return Err(DomainError::invalid(format!(
                "package name {s:?} must not contain spaces or backslashes"
            )));
        }
        Ok(Self(s.to_string()))
    }

    /// The generic door's grammar: one segment of `A-Za-z0-9._-+`.
    pub fn parse_simple(s: &str) -> DomainResult<Self> {
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
        if !ok || s.starts_with('.') {
            return Err(DomainError::invalid(format!(
                "invalid package name {s:?}: use letters, digits, '.', '_', '-' or '+', not starting with '.'"
            )));
        }
        Self::parse(s)
    }
}

impl VersionName {
    /// A version: 1–255 printable characters without `/`, `\` or whitespace, not `.`/`..`.
    pub fn parse(s: &str) -> DomainResult<Self> {
        no_controls("version", s)?;
        if s.is_empty() || s.len() > 255 || s == "." || s == ".." {
            return Err(DomainError::invalid(format!("invalid version {s:?}")));
        }
        if s.chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '\\')
        {
            return Err(DomainError::invalid(format!(
                "version {s:?} must not contain spaces or slashes"
            )));
        }
        Ok(Self(s.to_string()))
    }
}

impl FileName {
    /// A file name: one path segment of 1–255 printable characters, not `.`/`..`.
    pub fn parse(s: &str) -> DomainResult<Self> {
        no_controls("file name", s)?;
        if s.is_empty() || s.len() > 255 || s == "." || s == ".." {
            return Err(DomainError::invalid(format!("invalid file name {s:?}")));
        }
        if s.contains('/') || s.contains('\\') {
            return Err(DomainError::invalid(format!(
                "file name {s:?} must not contain slashes"
            )));
        }
        Ok(Self(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_lower_cased_and_checked() {
        assert_eq!(
            OwnerName::parse("Octo-Cat").expect("valid").as_str(),
            "octo-cat"
        );
        for bad in ["", "-x", "x-", "a_b", "a/b", "..", &"a".repeat(40)] {
            assert!(OwnerName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn package_names_refuse_traversal() {
        assert!(PackageName::parse("a/b/c").is_ok());
        for bad in [
            "", "..", "a/../b", "/a", "a/", "a//b", "a b", "a\\b", "a\u{0}",
        ] {
            assert!(PackageName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(PackageName::parse_simple("tool_1.2-x").is_ok());
        for bad in ["a/b", ".hidden", "a b", "a%2fb", ".."] {
            assert!(PackageName::parse_simple(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn versions_and_files_are_single_segments() {
        assert!(VersionName::parse("1.0.0-beta+1").is_ok());
        assert!(VersionName::parse("sha256:abc").is_ok());
        for bad in ["", ".", "..", "1/2", "1 2", "a\\b"] {
            assert!(VersionName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(FileName::parse("tool-1.0.tar.gz").is_ok());
        for bad in ["", ".", "..", "a/b", "..\\x", "x\ny"] {
            assert!(FileName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
