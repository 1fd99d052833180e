//! RubyGems: what each platform's gemspec says. A version is the gem's version; each
//! platform built for it (`ruby`, `x86_64-linux`, `java`) is a file of it with its own
//! gemspec facts (dependencies and required Ruby can differ per platform).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Description;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RubygemsMetadata {
    /// By platform name (`ruby` for pure-Ruby gems).
    pub platforms: BTreeMap<String, GemFacts>,
    /// Platforms yanked one by one (`gem yank --platform`) while others stay; a version
    /// whose every platform is yanked is yanked as a whole instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub yanked_platforms: Vec<String>,
}

/// The gemspec facts of one platform's `.gem`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GemFacts {
    /// The file name of the platform's `.gem`.
    pub file: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub email: Vec<String>,
    #[serde(default)]
    pub licenses: Vec<String>,
    pub homepage: Option<String>,
    /// The gemspec's `metadata` hash (`source_code_uri`, `changelog_uri`, ...).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub dependencies: Vec<GemDependency>,
    /// Requirement lists, e.g. `[">= 2.7"]` (empty: any).
    #[serde(default)]
    pub required_ruby_version: Vec<String>,
    #[serde(default)]
    pub required_rubygems_version: Vec<String>,
    /// The gemspec's date and the RubyGems version that built it, for the Marshal specs.
    pub date: Option<String>,
    pub rubygems_version: Option<String>,
    pub specification_version: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GemDependency {
    pub name: String,
    /// `runtime` or `development`.
    pub kind: String,
    /// e.g. `["~> 1.0", ">= 1.0.2"]`.
    pub requirements: Vec<String>,
}

impl RubygemsMetadata {
    /// The facts shown for the version: the `ruby` platform's, else the first platform's.
    pub fn primary(&self) -> Option<&GemFacts> {
        self.platforms
            .get("ruby")
            .or_else(|| self.platforms.values().next())
    }

    /// Platforms an index lists (not yanked one by one).
    pub fn listed_platforms(&self) -> impl Iterator<Item = (&String, &GemFacts)> {
        self.platforms
            .iter()
            .filter(|(p, _)| !self.yanked_platforms.contains(p))
    }

    pub fn describe(&self) -> Description {
        let Some(f) = self.primary() else {
            return Description::default();
        };
        let repository_url = f
            .metadata
            .get("source_code_uri")
            .cloned()
            .or_else(|| f.metadata.get("github_repo").cloned());
        Description {
            summary: f.summary.clone().or_else(|| f.description.clone()),
            license: (!f.licenses.is_empty()).then(|| f.licenses.join(" OR ")),
            homepage: f.homepage.clone(),
            authors: f.authors.clone(),
            repository_url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_reads_the_ruby_platform_and_links_the_source() {
        let mut m = RubygemsMetadata::default();
        m.platforms.insert(
            "x86_64-linux".into(),
            GemFacts {
                summary: Some("native".into()),
                ..Default::default()
            },
        );
        assert_eq!(m.describe().summary.as_deref(), Some("native"));
        let mut ruby = GemFacts {
            summary: Some("pure".into()),
            licenses: vec!["MIT".into(), "Ruby".into()],
            homepage: Some("https://example.com".into()),
            authors: vec!["Ada".into()],
            ..Default::default()
        };
        ruby.metadata
            .insert("github_repo".into(), "https://pk.example/acme/tool".into());
        m.platforms.insert("ruby".into(), ruby);
        let d = m.describe();
        assert_eq!(d.summary.as_deref(), Some("pure"));
        assert_eq!(d.license.as_deref(), Some("MIT OR Ruby"));
        assert_eq!(
            d.repository_url.as_deref(),
            Some("https://pk.example/acme/tool")
        );
        m.yanked_platforms.push("ruby".into());
        let listed: Vec<&String> = m.listed_platforms().map(|(p, _)| p).collect();
        assert_eq!(listed, ["x86_64-linux"]);
    }
}
