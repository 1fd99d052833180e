//! NuGet's URL grammar: `/nuget/{owner}/...`, package ids (case-insensitive, looked up by
//! their lower-case key), normalized versions and flat-container file names.
use crate::{
    domain::{OwnerName, PackageName, PackageType, VersionName, packages::PackageRef},
    error::{DomainError, DomainResult, What},
    formats::kit::path::{PathGrammar, PathParams, Valid},
};

use super::{errors::NugetError, version::NugetVersion};

/// A path grammar validated in a NuGet handler's arguments, refused in NuGet's shape.
pub(super) type Nuget<T> = Valid<T, NugetError>;

/// A package id as nuget.org accepts them: up to 100 characters, letters, digits and `_`
/// in runs separated by single `.` or `-`.
pub fn check_id(id: &str) -> DomainResult<()> {
    let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let ok = !id.is_empty() && id.len() <= 100 && id.split(['.', '-']).all(word);
    if !ok {
        return Err(DomainError::invalid(format!(
            "invalid package id {id:?}: use up to 100 letters, digits and '_', separated by single '.' or '-'"
        )));
    }
    Ok(())
}

/// The package `id` of `owner` (any case: lookups go by the lower-case key).
pub(super) fn package_ref(owner: &OwnerName, id: &str) -> DomainResult<PackageRef> {
    check_id(id)?;
    Ok(PackageRef {
        owner: owner.clone(),
        package_type: PackageType::Nuget,
        name: PackageName::parse(id)?,
    })
}

/// `/nuget/{owner}/...` with nothing else from the path.
pub(super) struct NugetOwner(pub OwnerName);

impl PathGrammar for NugetOwner {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        OwnerName::parse(p.get("owner")?).map(Self)
    }
}

/// `.../{id}/...`: a package.
pub(super) struct NugetId {
    pub package: PackageRef,
}

impl PathGrammar for NugetId {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        let owner = OwnerName::parse(p.get("owner")?)?;
        Ok(Self {
            package: package_ref(&owner, p.get("id")?)?,
        })
    }
}

/// A version as a URL names it (any case, any NuGet spelling: `1.0` is `1.0.0`).
pub(super) fn version_in(text: &str) -> DomainResult<NugetVersion> {
    NugetVersion::parse(text)
        .map_err(|_| DomainError::not_found(What::Version, format!("version {text}")))
}

/// `.../{id}/{version}`: the package push's delete, a registration leaf (`{version}.json`).
pub(super) struct NugetIdVersion {
    pub package: PackageRef,
    pub version: NugetVersion,
}

impl PathGrammar for NugetIdVersion {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        let NugetId { package } = NugetId::from_params(p)?;
        let raw = p.get("version")?;
        let raw = raw.strip_suffix(".json").unwrap_or(raw);
        Ok(Self {
            package,
            version: version_in(raw)?,
        })
    }
}

/// What a flat-container file name under `{id}/{version}/` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FlatFile {
    Nupkg,
    Snupkg,
    Nuspec,
    Readme,
}

/// `/v3/flatcontainer/{id}/{version}/{file}`.
pub(super) struct NugetFile {
    pub package: PackageRef,
    pub version: NugetVersion,
    pub kind: FlatFile,
}

impl PathGrammar for NugetFile {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        let NugetIdVersion { package, version } = NugetIdVersion::from_params(p)?;
        let file = p.get("file")?.to_ascii_lowercase();
        let id = package.name.as_str().to_ascii_lowercase();
        let stem = format!("{id}.{}", version.normalized().to_ascii_lowercase());
        let kind = if file == format!("{stem}.nupkg") {
            FlatFile::Nupkg
        } else if file == format!("{stem}.snupkg") {
            FlatFile::Snupkg
        } else if file == format!("{id}.nuspec") {
            FlatFile::Nuspec
        } else if file == "readme" || file == "readme.md" {
            FlatFile::Readme
        } else {
            return Err(DomainError::not_found(What::File, format!("file {file}")));
        };
        Ok(Self {
            package,
            version,
            kind,
        })
    }
}

/// `/v3/registration/{id}/page/{lower}/{upper}.json`.
pub(super) struct NugetPage {
    pub package: PackageRef,
    pub lower: NugetVersion,
    pub upper: NugetVersion,
}

impl PathGrammar for NugetPage {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        let NugetId { package } = NugetId::from_params(p)?;
        let upper = p.get("upper")?;
        Ok(Self {
            package,
            lower: version_in(p.get("lower")?)?,
            upper: version_in(upper.strip_suffix(".json").unwrap_or(upper))?,
        })
    }
}

/// The stored name of a package's files: `{lower-id}.{lower-version}.nupkg` (`.snupkg`).
pub(super) fn package_file_name(id: &str, version: &VersionName, ext: &str) -> String {
    format!(
        "{}.{}.{ext}",
        id.to_ascii_lowercase(),
        version.as_str().to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> PathParams {
        PathParams::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn ids_follow_nuget_org() {
        for ok in ["Acme.Tool", "a", "x_y-z.1", "Newtonsoft.Json"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "a/b",
            "a b",
            "../x",
            "é",
            &"a".repeat(101),
        ] {
            assert!(check_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn flat_files_are_named_by_lower_id_and_version() {
        let base = [("owner", "acme"), ("id", "Acme.Tool"), ("version", "1.0")];
        let file = |f: &str| {
            let mut p = base.to_vec();
            p.push(("file", f));
            NugetFile::from_params(&params(&p))
        };
        assert_eq!(
            file("acme.tool.1.0.0.nupkg").expect("nupkg").kind,
            FlatFile::Nupkg
        );
        assert_eq!(
            file("ACME.TOOL.1.0.0.NUPKG").expect("nupkg").kind,
            FlatFile::Nupkg
        );
        assert_eq!(
            file("acme.tool.1.0.0.snupkg").expect("snupkg").kind,
            FlatFile::Snupkg
        );
        assert_eq!(
            file("acme.tool.nuspec").expect("nuspec").kind,
            FlatFile::Nuspec
        );
        assert_eq!(file("readme").expect("readme").kind, FlatFile::Readme);
        assert!(matches!(
            file("other.1.0.0.nupkg"),
            Err(DomainError::NotFound { .. })
        ));
        let leaf = NugetIdVersion::from_params(&params(&[
            ("owner", "acme"),
            ("id", "acme.tool"),
            ("version", "2.0.0-beta.json"),
        ]))
        .expect("leaf");
        assert_eq!(leaf.version.normalized(), "2.0.0-beta");
        assert!(
            NugetIdVersion::from_params(&params(&[
                ("owner", "acme"),
                ("id", "a"),
                ("version", "x")
            ]))
            .is_err()
        );
    }
}
