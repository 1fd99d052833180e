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

/// Characters a reader can't see, or that reorder what they see: controls (Cc), format
/// characters (Cf: bidi overrides and isolates, zero-width spaces and joiners, the BOM,
/// tags), line and paragraph separators, whitespace other than the ASCII space, and the
/// invisible fillers and variation selectors. A name holding one looks like another name
/// (`f.txt` and `f.txt\u{200b}`), or shows its parts in another order (`txt.exe` behind a
/// right-to-left override), so no identifier may.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{0600}'..='\u{0605}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{FFFE}'..='\u{FFFF}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

fn no_invisible(what: &str, s: &str) -> DomainResult<()> {
    if let Some(c) = s.chars().find(|&c| is_invisible(c)) {
        return Err(DomainError::invalid(format!(
            "{what} {s:?} must not contain control, format or invisible characters (found U+{:04X})",
            c as u32
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
        no_invisible("package name", s)?;
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
        no_invisible("version", s)?;
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
    /// A file name: one path segment of 1–255 printable characters, not `.`/`..`, without
    /// invisible characters or spaces at either end: each file of a version must look
    /// different from every other (`f.txt ` would be a second `f.txt`).
    pub fn parse(s: &str) -> DomainResult<Self> {
        no_invisible("file name", s)?;
        if s.starts_with(' ') || s.ends_with(' ') {
            return Err(DomainError::invalid(format!(
                "file name {s:?} must not start or end with a space"
            )));
        }
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

    #[test]
    fn file_names_refuse_what_a_reader_cant_see() {
        for ok in ["my file.txt", "café.txt", "日本語.tar.gz", "a-b_c+d.zip"] {
            assert!(FileName::parse(ok).is_ok(), "{ok:?} refused");
        }
        for bad in [
            "f.txt ",
            " f.txt",
            "f.txt\t",
            "f\u{00A0}.txt",
            "f.txt\u{200B}",
            "f\u{200D}.txt",
            "\u{FEFF}f.txt",
            "evil\u{202E}txt.exe",
            "f\u{2066}.txt\u{2069}",
            "f\u{200E}.txt",
            "f\u{2028}.txt",
            "f\u{00AD}.txt",
            "f\u{FE0F}.txt",
            "f\u{E0041}.txt",
            "f\u{3164}.txt",
            "f\u{7F}.txt",
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad:?} accepted");
        }
        // The same rule for package names and versions (every door's identifiers).
        assert!(PackageName::parse("tool\u{202E}").is_err());
        assert!(VersionName::parse("1.0\u{200B}").is_err());
    }
}
