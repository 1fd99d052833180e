//! NuGet versions: `NuGetVersion`'s grammar, normalization and SemVer 2.0 ordering, and the
//! normalized form of dependency version ranges.
//!
//! A version is 1–4 numeric parts (`1.0` is `1.0.0`, leading zeros drop, a fourth part shows
//! only when it isn't 0), an optional release label (`-beta.2`) and build metadata (`+sha`),
//! which is ignored for identity. Release labels compare case-insensitively.
use std::{cmp::Ordering, fmt};

use crate::error::{DomainError, DomainResult};

#[derive(Clone, Debug)]
pub struct NugetVersion {
    parts: [u64; 4],
    /// Release labels as written (dot-separated in the text).
    release: Vec<String>,
    metadata: Option<String>,
}

fn valid_label(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl NugetVersion {
    pub fn parse(text: &str) -> DomainResult<Self> {
        let invalid = || {
            DomainError::invalid(format!(
                "invalid NuGet version {text:?}: use 1 to 4 numbers separated by '.', \
                 an optional -prerelease label and +metadata"
            ))
        };
        let s = text.trim();
        if s.is_empty() || s.len() > 128 {
            return Err(invalid());
        }
        let (rest, metadata) = match s.split_once('+') {
            Some((r, m)) => {
                if !m.split('.').all(valid_label) {
                    return Err(invalid());
                }
                (r, Some(m.to_string()))
            }
            None => (s, None),
        };
        let (numbers, release) = match rest.split_once('-') {
            Some((n, r)) => {
                if !r.split('.').all(valid_label) {
                    return Err(invalid());
                }
                (n, r.split('.').map(str::to_string).collect())
            }
            None => (rest, Vec::new()),
        };
        let numbers: Vec<&str> = numbers.split('.').collect();
        if numbers.is_empty() || numbers.len() > 4 {
            return Err(invalid());
        }
        let mut parts = [0u64; 4];
        for (i, n) in numbers.iter().enumerate() {
            if n.is_empty() || n.len() > 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            // NuGet's parts are Int32.
            parts[i] = n.parse::<u64>().map_err(|_| invalid())?;
            if parts[i] > i32::MAX as u64 {
                return Err(invalid());
            }
        }
        Ok(Self {
            parts,
            release,
            metadata,
        })
    }

    /// `1.0.0`, `1.0.0.4`, `1.0.0-beta.1`: the identity, as NuGet's `ToNormalizedString`.
    pub fn normalized(&self) -> String {
        let [a, b, c, d] = self.parts;
        let mut s = format!("{a}.{b}.{c}");
        if d != 0 {
            s.push_str(&format!(".{d}"));
        }
        if !self.release.is_empty() {
            s.push('-');
            s.push_str(&self.release.join("."));
        }
        s
    }

    /// The normalized version with its build metadata, as registrations show it.
    pub fn full(&self) -> String {
        match &self.metadata {
            Some(m) => format!("{}+{m}", self.normalized()),
            None => self.normalized(),
        }
    }

    pub fn is_prerelease(&self) -> bool {
        !self.release.is_empty()
    }

    /// A SemVer 2.0.0 version: dotted release labels or build metadata (older clients,
    /// `semVerLevel` below 2, don't see these).
    pub fn is_semver2(&self) -> bool {
        self.release.len() > 1 || self.metadata.is_some()
    }
}

impl fmt::Display for NugetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized())
    }
}

fn compare_label(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match (numeric(a), numeric(b)) {
        (true, true) => {
            let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()),
    }
}

impl Ord for NugetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| {
            match (self.release.is_empty(), other.release.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.release.iter().zip(&other.release) {
                        match compare_label(a, b) {
                            Ordering::Equal => {}
                            o => return o,
                        }
                    }
                    self.release.len().cmp(&other.release.len())
                }
            }
        })
    }
}

impl PartialOrd for NugetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equal as NuGet says: metadata ignored, release labels case-insensitive.
impl PartialEq for NugetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NugetVersion {}

/// A dependency's version range in NuGet's normalized notation: `1.0` → `[1.0.0, )`,
/// `[1.0,2.0)` → `[1.0.0, 2.0.0)`, `[1.0]` → `[1.0.0]`, empty → `(, )`. A range that
/// doesn't parse (floating `1.*` ranges are only for project files) is refused.
pub fn normalize_range(text: &str) -> DomainResult<String> {
    let s = text.trim();
    if s.is_empty() {
        return Ok("(, )".into());
    }
    let invalid = || DomainError::invalid(format!("invalid dependency version range {text:?}"));
    let first = s.as_bytes()[0];
    if first != b'[' && first != b'(' {
        return Ok(format!("[{}, )", NugetVersion::parse(s)?.full()));
    }
    let last = *s.as_bytes().last().ok_or_else(invalid)?;
    if s.len() < 2 || (last != b']' && last != b')') {
        return Err(invalid());
    }
    let inner = &s[1..s.len() - 1];
    let bound = |v: &str| -> DomainResult<Option<String>> {
        let v = v.trim();
        if v.is_empty() {
            Ok(None)
        } else {
            Ok(Some(NugetVersion::parse(v)?.full()))
        }
    };
    match inner.split_once(',') {
        None => {
            // `[1.0]`: exactly that version.
            if first != b'[' || last != b']' {
                return Err(invalid());
            }
            let v = bound(inner)?.ok_or_else(invalid)?;
            Ok(format!("[{v}]"))
        }
        Some((lo, hi)) => {
            let (lo, hi) = (bound(lo)?, bound(hi)?);
            if lo.is_none() && hi.is_none() && s != "(,)" && inner.trim() != "," {
                return Err(invalid());
            }
            if let (Some(l), Some(h)) = (&lo, &hi)
                && NugetVersion::parse(l)? > NugetVersion::parse(h)?
            {
                return Err(invalid());
            }
            Ok(format!(
                "{}{}, {}{}",
                first as char,
                lo.unwrap_or_default(),
                hi.unwrap_or_default(),
                last as char
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> NugetVersion {
        NugetVersion::parse(s).expect(s)
    }

    #[test]
    fn versions_normalize_as_nuget_does() {
        for (input, normalized) in [
            ("1.0", "1.0.0"),
            ("1", "1.0.0"),
            ("01.002.0003", "1.2.3"),
            ("1.2.3.0", "1.2.3"),
            ("1.2.3.4", "1.2.3.4"),
            ("1.0.0-Beta", "1.0.0-Beta"),
            ("1.0.0-rc.1+git.abc", "1.0.0-rc.1"),
            (" 2.0 ", "2.0.0"),
        ] {
            assert_eq!(v(input).normalized(), normalized, "{input}");
        }
        assert_eq!(v("1.0+build.7").full(), "1.0.0+build.7");
        for bad in [
            "",
            "a",
            "1.2.3.4.5",
            "1..2",
            "1.0-",
            "1.0-a..b",
            "1.0+",
            "-1",
            "1.0 beta",
            "99999999999",
        ] {
            assert!(NugetVersion::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ordering_is_semver2_and_ignores_metadata_and_case() {
        let ordered = [
            "0.9.0",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.0.1",
            "1.0.1",
            "10.0.0",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0.0+a"), v("1.0.0+b"));
        assert_eq!(v("1.0.0-BETA"), v("1.0.0-beta"));
        assert_eq!(v("1.0"), v("1.0.0.0"));
        assert!(v("1.0.0-a.b").is_semver2());
        assert!(v("1.0.0+m").is_semver2());
        assert!(!v("1.0.0-beta").is_semver2());
        assert!(v("1.0.0-beta").is_prerelease());
    }

    #[test]
    fn ranges_normalize() {
        for (input, normalized) in [
            ("1.0", "[1.0.0, )"),
            ("[1.0,2.0)", "[1.0.0, 2.0.0)"),
            ("(, 3.0]", "(, 3.0.0]"),
            ("[1.0]", "[1.0.0]"),
            ("", "(, )"),
            ("[1.0.0-beta, )", "[1.0.0-beta, )"),
        ] {
            assert_eq!(normalize_range(input).expect(input), normalized, "{input}");
        }
        for bad in ["1.*", "[2.0,1.0]", "(1.0)", "[1.0", "[,]x", "[a,b]"] {
            assert!(normalize_range(bad).is_err(), "{bad:?} accepted");
        }
    }
}
