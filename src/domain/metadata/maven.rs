//! Maven: what the version's POM says (parsed by the Maven door, bounded, no entities), and
//! the goal prefix a `maven-plugin` jar declares. Parent POMs are not resolved.
use serde::{Deserialize, Serialize};

use super::Description;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
// Rows stored before this variant (`{"format": "maven", "pom": ..}`) stay `Other`.
#[serde(deny_unknown_fields)]
pub struct MavenMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
    /// `jar` when the POM names none (Maven's default); `None` until the POM arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packaging: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<MavenLicense>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scm_url: Option<String>,
    /// `Name <email>` or the id, as the POM lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub developers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<MavenCoordinates>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<MavenDependency>,
    /// A plugin's `goalPrefix` (from `META-INF/maven/plugin.xml` in its jar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_prefix: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MavenLicense {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MavenCoordinates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MavenDependency {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

impl MavenMetadata {
    pub fn describe(&self) -> Description {
        let licenses: Vec<&str> = self
            .licenses
            .iter()
            .filter_map(|l| l.name.as_deref().or(l.url.as_deref()))
            .collect();
        Description {
            summary: self.description.clone().or_else(|| self.name.clone()),
            license: (!licenses.is_empty()).then(|| licenses.join(", ")),
            homepage: self.url.clone(),
            authors: self.developers.clone(),
            repository_url: self.scm_url.clone(),
        }
    }

    /// What a version knows after `self` arrives on top of `earlier` (the POM after the
    /// jar, the jar's plugin prefix after the POM): what `self` says wins, the rest stays.
    pub fn merged_over(self, earlier: &MavenMetadata) -> MavenMetadata {
        let pom_known = self.packaging.is_some();
        let earlier = earlier.clone();
        if pom_known {
            MavenMetadata {
                plugin_prefix: self.plugin_prefix.or(earlier.plugin_prefix),
                ..self
            }
        } else {
            MavenMetadata {
                plugin_prefix: self.plugin_prefix.or(earlier.plugin_prefix),
                ..earlier
            }
        }
    }

    /// Whether the POM itself is what a client of this version downloads (`pom`
    /// packaging: BOMs and parents have no other artifact).
    pub fn pom_is_the_artifact(&self) -> bool {
        self.packaging.as_deref() == Some("pom")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_what_the_pom_says() {
        let m = MavenMetadata {
            name: Some("App".into()),
            description: Some("An app".into()),
            url: Some("https://example.com/app".into()),
            licenses: vec![
                MavenLicense {
                    name: Some("Apache-2.0".into()),
                    url: None,
                },
                MavenLicense {
                    name: None,
                    url: Some("https://mit.example".into()),
                },
            ],
            scm_url: Some("https://example.com/app.git".into()),
            developers: vec!["Ada <ada@example.com>".into()],
            ..Default::default()
        };
        let d = m.describe();
        assert_eq!(d.summary.as_deref(), Some("An app"));
        assert_eq!(
            d.license.as_deref(),
            Some("Apache-2.0, https://mit.example")
        );
        assert_eq!(d.homepage.as_deref(), Some("https://example.com/app"));
        assert_eq!(d.authors, ["Ada <ada@example.com>"]);
        assert_eq!(
            d.repository_url.as_deref(),
            Some("https://example.com/app.git")
        );
    }

    #[test]
    fn a_pom_after_the_jar_keeps_the_plugin_prefix_and_the_jar_keeps_the_pom() {
        let jar = MavenMetadata {
            plugin_prefix: Some("hello".into()),
            ..Default::default()
        };
        let pom = MavenMetadata {
            packaging: Some("maven-plugin".into()),
            name: Some("Hello".into()),
            ..Default::default()
        };
        let both = pom.clone().merged_over(&jar);
        assert_eq!(both.plugin_prefix.as_deref(), Some("hello"));
        assert_eq!(both.name.as_deref(), Some("Hello"));
        let again = jar.merged_over(&pom);
        assert_eq!(again.name.as_deref(), Some("Hello"));
        assert_eq!(again.plugin_prefix.as_deref(), Some("hello"));
        assert_eq!(MavenMetadata::default().merged_over(&pom), pom);
    }
}
