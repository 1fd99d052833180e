//! Format-specific version metadata: one serde-tagged enum, stored as JSON on the version.
//! Each format has its struct in its own file, with `describe()` giving what the generic
//! model shows (summary, license, home page, authors, repository link). Stored rows are
//! parsed once, when a version is read, and never fail to parse: what no variant reads stays
//! `Other`.
use serde::{Deserialize, Serialize};

mod container;
mod generic;
mod maven;
mod npm;
mod nuget;
mod rubygems;

pub use container::{ChildPlatform, ContainerMetadata, Platform};
pub use generic::GenericMetadata;
pub use maven::{MavenCoordinates, MavenDependency, MavenLicense, MavenMetadata};
pub use npm::NpmMetadata;
pub use nuget::{
    NugetDependency, NugetDependencyGroup, NugetDeprecation, NugetMetadata, NugetPackageType,
    NugetSymbol,
};
pub use rubygems::{GemDependency, GemFacts, RubygemsMetadata};

/// Internally tagged newtype variants of structs serialize exactly as struct variants
/// would, so the stored JSON is `{"format": "npm", "manifest": ..}` as it always was.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per version read, held next to a version's strings; a box would \
              only add an allocation (`allow`, not `expect`: whether it fires depends on \
              which formats' variants exist)"
)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum VersionMetadata {
    Generic(GenericMetadata),
    Container(ContainerMetadata),
    Npm(NpmMetadata),
    Rubygems(RubygemsMetadata),
    Nuget(NugetMetadata),
    Maven(MavenMetadata),
    /// Anything a door stores that it describes itself (kept as raw JSON), and rows no
    /// variant reads.
    #[serde(untagged)]
    Other(serde_json::Value),
}

/// What GraphQL, REST and the version's columns show, from any format's metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Description {
    pub summary: Option<String>,
    pub license: Option<String>,
    pub homepage: Option<String>,
    pub authors: Vec<String>,
    pub repository_url: Option<String>,
}

impl VersionMetadata {
    /// Stored JSON to typed. Never an error: a row no variant reads is kept as `Other`, so a
    /// bad row shows as raw JSON rather than failing every read of its package.
    pub fn from_stored(value: serde_json::Value) -> Self {
        // `from_value` consumes its input; the untagged `Other` variant takes anything, so
        // this fails only on values serde can't represent at all.
        match serde_json::from_value::<Self>(value) {
            Ok(m) => m,
            Err(e) => Self::Other(serde_json::Value::String(format!(
                "unreadable metadata: {e}"
            ))),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    pub fn describe(&self) -> Description {
        match self {
            Self::Generic(m) => m.describe(),
            Self::Container(m) => m.describe(),
            Self::Npm(m) => m.describe(),
            Self::Rubygems(m) => m.describe(),
            Self::Nuget(m) => m.describe(),
            Self::Maven(m) => m.describe(),
            Self::Other(_) => Description::default(),
        }
    }

    /// Whether a GET of `file` counts a download by what this version's metadata says,
    /// beside `FormatRules::lead_file` (Maven: the POM of `pom` packaging).
    pub fn counts_download(&self, file: &str) -> bool {
        match self {
            Self::Maven(m) => m.pom_is_the_artifact() && file.ends_with(".pom"),
            _ => false,
        }
    }

    /// This metadata arriving for a version that has `earlier`: what the version keeps
    /// (Maven learns its POM and its jar's plugin prefix from separate uploads).
    pub fn merged_over(self, earlier: &VersionMetadata) -> VersionMetadata {
        match (self, earlier) {
            (Self::Maven(new), Self::Maven(old)) => Self::Maven(new.merged_over(old)),
            (new, _) => new,
        }
    }

    /// The digest of the manifest this version refers to (signatures, SBOMs), for the
    /// referrers index.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::Container(m) => m.subject.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn homepage_and_authors_per_format() {
        let npm = VersionMetadata::Npm(NpmMetadata {
            manifest: serde_json::json!({
                "homepage": "https://example.com",
                "author": {"name": "Ada", "email": "ada@example.com"},
                "contributors": ["Bob", {"name": "Cy"}, 7],
            }),
        });
        let d = npm.describe();
        assert_eq!(d.homepage.as_deref(), Some("https://example.com"));
        assert_eq!(d.authors, ["Ada <ada@example.com>", "Bob", "Cy"]);
        let old: VersionMetadata = serde_json::from_value(serde_json::json!({
            "format": "container", "media_type": "m", "size": 1
        }))
        .expect("metadata stored before url/authors existed");
        assert_eq!(old.describe().homepage, None);
        assert!(old.describe().authors.is_empty());
    }

    /// Rows as today's code stores them parse to the typed value and serialize back to the
    /// same JSON, so nothing stored needs rewriting.
    #[test]
    fn stored_json_round_trips() {
        let rows = [
            json!({"format": "generic"}),
            json!({"format": "npm", "manifest": {"name": "@a/b", "version": "1.0.0",
                "license": {"type": "MIT"}, "deprecated": "use c"}}),
            json!({"format": "container",
                "media_type": "text/x-stored-manifest",
                "annotations": {}, "size": 512, "references": ["sha256:aa", "sha256:bb"]}),
            json!({"format": "container",
                "media_type": "text/x-stored-manifest",
                "artifact_type": "text/x-stored-signature",
                "subject": "sha256:cc", "annotations": {"k": "v"}, "size": 9,
                "references": [], "url": "https://example.com", "authors": "Ada"}),
            json!({"format": "container",
                "media_type": "text/x-stored-index",
                "annotations": {}, "size": 300, "references": ["sha256:aa", "sha256:bb"],
                "platforms": [{"digest": "sha256:aa", "os": "linux", "architecture": "arm64", "variant": "v8"},
                    {"digest": "sha256:bb", "os": "windows", "architecture": "amd64", "os_version": "10.0"}]}),
            json!({"format": "maven", "pom": "<project/>"}),
            json!({"format": "maven", "group_id": "com.example", "packaging": "jar",
                "licenses": [{"name": "MIT"}], "dependencies": [{"artifact_id": "x", "optional": true}]}),
            json!({"something": "else"}),
        ];
        for row in rows {
            let typed = VersionMetadata::from_stored(row.clone());
            assert_eq!(typed.to_json(), row, "{typed:?}");
        }
        assert!(matches!(
            VersionMetadata::from_stored(json!({"format": "generic"})),
            VersionMetadata::Generic(_)
        ));
        let npm =
            VersionMetadata::from_stored(json!({"format": "npm", "manifest": {"deprecated": "x"}}));
        match &npm {
            VersionMetadata::Npm(m) => assert_eq!(m.deprecated(), Some("x")),
            other => panic!("not npm: {other:?}"),
        }
        let image = VersionMetadata::from_stored(json!({"format": "container",
            "media_type": "m", "subject": "sha256:cc", "size": 1}));
        assert_eq!(image.subject(), Some("sha256:cc"));
        // A container row missing its required fields is kept, not refused.
        let odd = json!({"format": "container", "size": "big"});
        assert_eq!(
            VersionMetadata::from_stored(odd.clone()),
            VersionMetadata::Other(odd)
        );
    }

    #[test]
    fn describe_per_format() {
        let npm = VersionMetadata::Npm(NpmMetadata {
            manifest: json!({"description": "a tool", "licenses": [{"type": "MIT"}, {"type": "ISC"}],
                "repository": {"type": "git", "url": "git+https://example.com/a.git"}}),
        });
        assert_eq!(
            npm.describe(),
            Description {
                summary: Some("a tool".into()),
                license: Some("MIT OR ISC".into()),
                homepage: None,
                authors: Vec::new(),
                repository_url: Some("git+https://example.com/a.git".into()),
            }
        );
        let legacy = NpmMetadata {
            manifest: json!({"license": {"type": "BSD"}, "repository": "github:a/b"}),
        };
        assert_eq!(legacy.describe().license.as_deref(), Some("BSD"));
        assert_eq!(
            legacy.describe().repository_url.as_deref(),
            Some("github:a/b")
        );
        let image = VersionMetadata::from_stored(json!({"format": "container", "media_type": "m",
            "size": 1, "url": "https://example.com", "authors": "Ada", "description": "web",
            "licenses": "Apache-2.0", "source": "https://example.com/src"}));
        assert_eq!(
            image.describe(),
            Description {
                summary: Some("web".into()),
                license: Some("Apache-2.0".into()),
                homepage: Some("https://example.com".into()),
                authors: vec!["Ada".into()],
                repository_url: Some("https://example.com/src".into()),
            }
        );
        assert_eq!(
            VersionMetadata::Generic(GenericMetadata {}).describe(),
            Description::default()
        );
    }
}
