//! RubyGems' grammar of names, versions and platforms, and `Gem::Version` ordering (not
//! semver: `1.0.a` < `1.0` < `1.0.1`; any letter makes a prerelease).
use std::cmp::Ordering;

use crate::error::{DomainError, DomainResult};

/// rubygems.org's rule: letters, digits, `.`, `-`, `_`, with a letter or digit somewhere,
/// at most 128 characters.
pub fn check_gem_name(name: &str) -> DomainResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && name.bytes().any(|b| b.is_ascii_alphanumeric())
        && !name.starts_with('.')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(format!(
            "invalid gem name {name:?}: use letters, digits, '.', '-' or '_'"
        )))
    }
}

/// `Gem::Version`'s pattern, without the `-` form (a gemspec holds the canonical `.pre.`).
pub fn check_version(v: &str) -> DomainResult<()> {
    let mut segments = v.split('.');
    let first_ok = segments
        .next()
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = segments.all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if first_ok && rest_ok && v.len() <= 128 {
        Ok(())
    } else {
        Err(DomainError::invalid(format!("invalid gem version {v:?}")))
    }
}

/// `ruby`, `java`, `x86_64-linux`, `arm64-darwin-21`, ...
pub fn check_platform(p: &str) -> DomainResult<()> {
    let ok = !p.is_empty()
        && p.len() <= 64
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !p.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(format!("invalid gem platform {p:?}")))
    }
}

/// A version with a letter in it is a prerelease (`1.0.0.rc1`, `2.0.pre`).
pub fn is_prerelease(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_alphabetic())
}

/// `name-version[-platform].gem` (the platform left out for `ruby`).
pub fn gem_file_name(name: &str, version: &str, platform: &str) -> String {
    format!("{}.gem", full_name(name, version, platform))
}

/// `name-version[-platform]`.
pub fn full_name(name: &str, version: &str, platform: &str) -> String {
    if platform == "ruby" {
        format!("{name}-{version}")
    } else {
        format!("{name}-{version}-{platform}")
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Number(u64),
    Letters(&'a str),
}

/// `Gem::Version#segments`: runs of digits and runs of letters.
fn segments(v: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Segment::Number(v[start..i].parse().unwrap_or(u64::MAX)));
        } else if bytes[i].is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Segment::Letters(&v[start..i]));
        } else {
            i += 1;
        }
    }
    out
}

/// `Gem::Version#canonical_segments`: the release part and the prerelease part (from the
/// first letters on), each without trailing zeros.
fn canonical(all: Vec<Segment<'_>>) -> Vec<Segment<'_>> {
    let split = all
        .iter()
        .position(|s| matches!(s, Segment::Letters(_)))
        .unwrap_or(all.len());
    let mut release: Vec<Segment<'_>> = Vec::new();
    let mut pre: Vec<Segment<'_>> = Vec::new();
    for (i, s) in all.into_iter().enumerate() {
        if i < split {
            release.push(s);
        } else {
            pre.push(s);
        }
    }
    for part in [&mut release, &mut pre] {
        while part.last() == Some(&Segment::Number(0)) {
            part.pop();
        }
    }
    release.extend(pre);
    release
}

/// `Gem::Version#<=>`: segment by segment, a missing segment counts as 0, letters sort
/// before numbers (so `1.0.a` < `1.0`).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (sa, sb) = (canonical(segments(a)), canonical(segments(b)));
    let zero = Segment::Number(0);
    for i in 0..sa.len().max(sb.len()) {
        let (x, y) = (sa.get(i).unwrap_or(&zero), sb.get(i).unwrap_or(&zero));
        let o = match (x, y) {
            (Segment::Number(x), Segment::Number(y)) => x.cmp(y),
            (Segment::Letters(x), Segment::Letters(y)) => x.cmp(y),
            (Segment::Letters(_), Segment::Number(_)) => Ordering::Less,
            (Segment::Number(_), Segment::Letters(_)) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gem_versions_order_as_rubygems_does() {
        // The order `ruby -e 'p VS.sort_by { |v| Gem::Version.new(v) }'` prints.
        let mut vs = vec![
            "1.0.1",
            "1.0",
            "1.0.a",
            "1.0.0.rc1",
            "0.9",
            "1.10",
            "1.2",
            "1.0.b1",
            "2",
            "1.0.0.a",
            "1.a",
        ];
        vs.sort_by(|a, b| compare(a, b));
        assert_eq!(
            vs,
            [
                "0.9",
                "1.0.a",
                "1.0.0.a",
                "1.a",
                "1.0.b1",
                "1.0.0.rc1",
                "1.0",
                "1.0.1",
                "1.2",
                "1.10",
                "2"
            ]
        );
        assert_eq!(compare("1.0.0.a", "1.a"), Ordering::Equal);
        assert_eq!(compare("1.0", "1.0.0"), Ordering::Equal);
        assert!(is_prerelease("1.0.0.rc1"));
        assert!(!is_prerelease("1.0.0"));
    }

    #[test]
    fn names_versions_platforms() {
        assert!(check_gem_name("my_tool-2.rb").is_ok());
        for bad in ["", "..", "-x", "a/b", "a b", "ü"] {
            assert!(check_gem_name(bad).is_err(), "{bad}");
        }
        assert!(check_version("1.0.0.pre.1").is_ok());
        for bad in ["", "a", "1..0", "1.0-beta", "1/2"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
        assert!(check_platform("x86_64-linux").is_ok());
        assert!(check_platform("../x").is_err());
        assert_eq!(gem_file_name("t", "1.0", "ruby"), "t-1.0.gem");
        assert_eq!(gem_file_name("t", "1.0", "java"), "t-1.0-java.gem");
    }
}
