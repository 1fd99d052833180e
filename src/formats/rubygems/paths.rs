//! RubyGems' URL grammar under `/rubygems/{owner}`: gem names, and the full names of
//! `.gem` files and quick specs (`NAME-VERSION[-PLATFORM]`), split back into their parts.
use crate::{
    domain::{OwnerName, PackageName, PackageType, VersionName, packages::PackageRef},
    error::{DomainError, DomainResult, What},
    formats::kit::path::{PathGrammar, PathParams, Valid},
};

use super::{
    errors::RubygemsError,
    version::{check_gem_name, check_platform, check_version},
};

pub(super) type Gems<T> = Valid<T, RubygemsError>;

/// The gem `name` of `owner`.
pub(super) fn gem_ref(owner: &OwnerName, name: &str) -> DomainResult<PackageRef> {
    check_gem_name(name)?;
    Ok(PackageRef {
        owner: owner.clone(),
        package_type: PackageType::Rubygems,
        name: PackageName::parse(name)?,
    })
}

/// `/rubygems/{owner}/...` with nothing else from the path.
pub(super) struct GemOwner(pub OwnerName);

impl PathGrammar for GemOwner {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        OwnerName::parse(p.get("owner")?).map(Self)
    }
}

/// `/rubygems/{owner}/info/{name}`, `/api/v1/gems/{name}.json`, ...
pub(super) struct GemPath(pub PackageRef);

impl PathGrammar for GemPath {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        let owner = OwnerName::parse(p.get("owner")?)?;
        let name = p.get("name")?;
        let name = name.strip_suffix(".json").unwrap_or(name);
        gem_ref(&owner, name).map(Self)
    }
}

/// A gem's full name split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FullName {
    pub package: PackageRef,
    pub version: VersionName,
    pub platform: String,
}

/// `gems/{file}` (`NAME-VERSION[-PLATFORM].gem`) and `quick/Marshal.4.8/{file}`
/// (`...gemspec.rz`).
pub(super) struct GemFile {
    pub full: FullName,
    pub file: String,
}

impl PathGrammar for GemFile {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        let owner = OwnerName::parse(p.get("owner")?)?;
        let file = p.get("file")?;
        let stem = file
            .strip_suffix(".gem")
            .or_else(|| file.strip_suffix(".gemspec.rz"))
            .ok_or_else(|| DomainError::not_found(What::File, format!("file {file}")))?;
        Ok(Self {
            full: split_full_name(&owner, stem)?,
            file: file.to_string(),
        })
    }
}

/// `my-tool-1.0.0-x86_64-linux` → (`my-tool`, `1.0.0`, `x86_64-linux`). Names may hold `-`
/// and digits, so each `-DIGIT` is tried in turn: the first split whose rest is a version,
/// optionally followed by a platform that starts with a letter, wins.
pub(super) fn split_full_name(owner: &OwnerName, stem: &str) -> DomainResult<FullName> {
    let not_found = || DomainError::not_found(What::File, format!("gem {stem}"));
    for (i, _) in stem.match_indices('-') {
        let (name, rest) = (&stem[..i], &stem[i + 1..]);
        if !rest.starts_with(|c: char| c.is_ascii_digit()) || check_gem_name(name).is_err() {
            continue;
        }
        let (version, platform) = match rest.split_once('-') {
            Some((v, p)) => (v, p),
            None => (rest, "ruby"),
        };
        if check_version(version).is_err()
            || check_platform(platform).is_err()
            || !platform.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            continue;
        }
        return Ok(FullName {
            package: gem_ref(owner, name)?,
            version: VersionName::parse(version)?,
            platform: platform.to_string(),
        });
    }
    Err(not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_split_at_the_version() {
        let owner = OwnerName::parse("acme").expect("owner");
        let split = |s: &str| {
            split_full_name(&owner, s).map(|f| {
                (
                    f.package.name.to_string(),
                    f.version.to_string(),
                    f.platform,
                )
            })
        };
        let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            split("tool-1.0.0").expect("plain"),
            t("tool", "1.0.0", "ruby")
        );
        assert_eq!(
            split("my-tool-1.0.0.rc1-x86_64-linux").expect("platform"),
            t("my-tool", "1.0.0.rc1", "x86_64-linux")
        );
        assert_eq!(
            split("foo-2-1.0").expect("digit in name"),
            t("foo-2", "1.0", "ruby")
        );
        assert!(split("tool").is_err());
        assert!(split("tool-x").is_err());
        assert!(split("../tool-1.0").is_err());
    }
}
