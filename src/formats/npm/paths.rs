//! npm's URL grammar: `@scope/name` package names, tarball file names, dist-tags.

use crate::{
    domain::{
        OwnerName, PackageName, PackageType, VersionName, npm::check_dist_tag, packages::PackageRef,
    },
    error::{DomainError, What},
};

use super::NpmError;

/// `@owner/name` → the package it names. npm names are lower-case, URL-safe, ≤ 214 chars.
pub(super) fn package_ref(full: &str) -> Result<PackageRef, NpmError> {
    let invalid = || {
        DomainError::invalid(format!(
            "invalid package name {full:?}: Packyard serves scoped packages, @OWNER/NAME"
        ))
    };
    let rest = full.strip_prefix('@').ok_or_else(invalid)?;
    let (scope, name) = rest.split_once('/').ok_or_else(invalid)?;
    let valid_name = !name.is_empty()
        && full.len() <= 214
        && !name.starts_with('.')
        && !name.starts_with('_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b));
    if !valid_name || scope.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid().into());
    }
    Ok(PackageRef {
        owner: OwnerName::parse(scope)?,
        package_type: PackageType::Npm,
        name: PackageName::parse(name)?,
    })
}

pub(super) fn joined(a: &str, b: &str) -> String {
    format!("{a}/{b}")
}

pub(super) fn full_name(r: &PackageRef) -> String {
    format!("@{}/{}", r.owner, r.name)
}

/// `name-1.2.3.tgz` → `1.2.3`.
pub(super) fn version_from_file(r: &PackageRef, file: &str) -> Result<VersionName, NpmError> {
    let version = file
        .strip_prefix(&format!("{}-", r.name))
        .and_then(|v| v.strip_suffix(".tgz"))
        .ok_or_else(|| DomainError::not_found(What::File, format!("tarball {file}")))?;
    Ok(VersionName::parse(version)?)
}

pub(super) fn check_tag(tag: &str) -> Result<(), NpmError> {
    Ok(check_dist_tag(tag)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let r = package_ref("@acme/left-pad").expect("valid");
        assert_eq!((r.owner.as_str(), r.name.as_str()), ("acme", "left-pad"));
        for bad in [
            "left-pad",
            "@acme",
            "@acme/",
            "@Acme/x",
            "@acme/X",
            "@acme/../x",
            "@acme/a/b",
            "@acme/.x",
            "@acme/_x",
            "@a b/x",
        ] {
            assert!(package_ref(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            version_from_file(&r, "left-pad-1.2.3.tgz")
                .expect("valid")
                .as_str(),
            "1.2.3"
        );
        assert!(version_from_file(&r, "other-1.2.3.tgz").is_err());
    }

    #[test]
    fn tags_that_look_like_ranges_are_refused() {
        assert!(check_tag("beta").is_ok());
        assert!(check_tag("next-2").is_ok());
        for bad in ["1.2", "^1.0.0", ">=2", "1.x", "", "a b"] {
            assert!(check_tag(bad).is_err(), "{bad} accepted");
        }
    }
}
