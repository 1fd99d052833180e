//! npm's URL grammar: `@scope/name` package names, tarball file names, dist-tags.

use crate::{
    domain::{
        OwnerName, PackageName, PackageType, VersionName, npm::check_dist_tag, packages::PackageRef,
    },
    error::{DomainError, What},
};

use crate::{
    error::DomainResult,
    formats::kit::path::{PathGrammar, PathParams, Valid},
};

use super::NpmError;

/// A path grammar validated in an npm handler's arguments, refused in npm's shape.
pub(super) type Npm<T> = Valid<T, NpmError>;

/// `@owner/name` → the package it names. npm names are lower-case, URL-safe, ≤ 214 chars.
pub(super) fn package_ref(full: &str) -> DomainResult<PackageRef> {
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
        return Err(invalid());
    }
    Ok(PackageRef {
        owner: OwnerName::parse(scope)?,
        package_type: PackageType::Npm,
        name: PackageName::parse(name)?,
    })
}

/// The package a route names. npm sends `@scope%2fname` for packuments and updates (one
/// segment, `{a}`, decoded by the router) and `@scope/name` for tarballs (`{a}/{b}`), and
/// other clients either: each endpoint is registered for both (`scoped`) with one handler.
fn package_in(p: &PathParams) -> DomainResult<PackageRef> {
    let a = p.get("a")?;
    match p.opt("b") {
        Some(b) => package_ref(&format!("{a}/{b}")),
        None => package_ref(a),
    }
}

/// `/npm/{pkg}` and the routes below it that need nothing else from the path.
pub(super) struct NpmPackage(pub PackageRef);

impl PathGrammar for NpmPackage {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        package_in(p).map(Self)
    }
}

/// `/npm/{pkg}/-rev/{rev}`: an update written against a document revision.
pub(super) struct NpmRevision {
    pub package: PackageRef,
    pub rev: String,
}

impl PathGrammar for NpmRevision {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        Ok(Self {
            package: package_in(p)?,
            rev: p.get("rev")?.to_string(),
        })
    }
}

/// `/npm/{pkg}/-/{file}`: a tarball, its version read from its name.
pub(super) struct NpmTarball {
    pub package: PackageRef,
    pub version: VersionName,
    pub file: String,
}

impl PathGrammar for NpmTarball {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        // npm deletes a tarball by the path of its URL under the registry URL, which
        // repeats our `/npm` prefix: `/npm/npm/@scope/name/-/...`, routed as `{a}/{b}/{c}`.
        let package = match p.opt("c") {
            Some(c) if p.get("a")? == "npm" => package_ref(&format!("{}/{c}", p.get("b")?))?,
            Some(_) => return Err(DomainError::not_found(What::File, "tarball")),
            None => package_in(p)?,
        };
        let file = p.get("file")?.to_string();
        Ok(Self {
            version: version_from_file(&package, &file)?,
            package,
            file,
        })
    }
}

/// `/npm/-/package/{pkg}/dist-tags/{tag}`. The tag is checked by what is done with it (a
/// new tag must not look like a range; any existing one may be removed).
pub(super) struct NpmDistTag {
    pub package: PackageRef,
    pub tag: String,
}

impl PathGrammar for NpmDistTag {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        Ok(Self {
            package: package_in(p)?,
            tag: p.get("tag")?.to_string(),
        })
    }
}

pub(super) fn full_name(r: &PackageRef) -> String {
    format!("@{}/{}", r.owner, r.name)
}

/// `name-1.2.3.tgz` → `1.2.3`.
pub(super) fn version_from_file(r: &PackageRef, file: &str) -> DomainResult<VersionName> {
    let version = file
        .strip_prefix(&format!("{}-", r.name))
        .and_then(|v| v.strip_suffix(".tgz"))
        .ok_or_else(|| DomainError::not_found(What::File, format!("tarball {file}")))?;
    VersionName::parse(version)
}

pub(super) fn check_tag(tag: &str) -> DomainResult<()> {
    check_dist_tag(tag)
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

    fn params(pairs: &[(&str, &str)]) -> PathParams {
        PathParams::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn both_spellings_name_one_package() {
        let encoded = NpmPackage::from_params(&params(&[("a", "@acme/pad")])).expect("encoded");
        let plain =
            NpmPackage::from_params(&params(&[("a", "@acme"), ("b", "pad")])).expect("plain");
        assert_eq!(encoded.0, plain.0);
        for bad in [
            params(&[("a", "pad")]),
            params(&[("a", "acme"), ("b", "pad")]),
            params(&[("a", "@acme"), ("b", "Pad")]),
        ] {
            assert!(NpmPackage::from_params(&bad).is_err());
        }
    }

    #[test]
    fn tarballs_and_their_prefixed_deletes() {
        let file = ("file", "pad-1.2.3.tgz");
        let plain =
            NpmTarball::from_params(&params(&[("a", "@acme"), ("b", "pad"), file])).expect("plain");
        assert_eq!(plain.version.as_str(), "1.2.3");
        let prefixed =
            NpmTarball::from_params(&params(&[("a", "npm"), ("b", "@acme"), ("c", "pad"), file]))
                .expect("prefixed");
        assert_eq!(prefixed.package, plain.package);
        let elsewhere = NpmTarball::from_params(&params(&[
            ("a", "other"),
            ("b", "@acme"),
            ("c", "pad"),
            file,
        ]));
        assert!(matches!(elsewhere, Err(DomainError::NotFound { .. })));
        let other = NpmTarball::from_params(&params(&[("a", "@acme/pad"), ("file", "x-1.tgz")]));
        assert!(matches!(other, Err(DomainError::NotFound { .. })));
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
