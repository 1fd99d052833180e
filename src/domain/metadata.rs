//! Format-specific version metadata: one serde-tagged enum, stored as JSON on the version.
//! Each door adds its variant; the domain stores and returns it without interpreting it
//! beyond what the generic model needs.
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum VersionMetadata {
    /// Generic packages carry no metadata beyond their files.
    Generic {},
    /// Containers: what a manifest GET must answer with, and what the referrers API and
    /// GraphQL show.
    Container {
        media_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        artifact_type: Option<String>,
        /// The digest of the manifest this one refers to (signatures, SBOMs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        #[serde(default)]
        annotations: serde_json::Map<String, serde_json::Value>,
        size: u64,
        /// Platforms of an index's manifests, or the config/layer digests of an image.
        #[serde(default)]
        references: Vec<String>,
        /// `org.opencontainers.image.url` (annotation or label).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// `org.opencontainers.image.authors` (annotation or label).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authors: Option<String>,
    },
    /// npm: the version's `package.json` as published (without `dist`, served fresh).
    Npm { manifest: serde_json::Value },
    /// Anything a door stores that it describes itself (kept as raw JSON).
    #[serde(untagged)]
    Other(serde_json::Value),
}

impl VersionMetadata {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The project's home page, as the format states it.
    pub fn homepage(&self) -> Option<String> {
        match self {
            Self::Npm { manifest } => manifest
                .get("homepage")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            Self::Container { url, .. } => url.clone(),
            _ => None,
        }
    }

    /// The authors, as the format states them (npm: `author` then `contributors`, each a
    /// string or `{name, email}`; containers: the authors label as written).
    pub fn authors(&self) -> Vec<String> {
        fn person(p: &serde_json::Value) -> Option<String> {
            match p {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(o) => {
                    let name = o.get("name")?.as_str()?;
                    Some(match o.get("email").and_then(serde_json::Value::as_str) {
                        Some(email) => format!("{name} <{email}>"),
                        None => name.to_string(),
                    })
                }
                _ => None,
            }
        }
        match self {
            Self::Npm { manifest } => manifest
                .get("author")
                .into_iter()
                .chain(
                    manifest
                        .get("contributors")
                        .and_then(serde_json::Value::as_array)
                        .into_iter()
                        .flatten(),
                )
                .filter_map(person)
                .filter(|s| !s.trim().is_empty())
                .collect(),
            Self::Container { authors, .. } => authors.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homepage_and_authors_per_format() {
        let npm = VersionMetadata::Npm {
            manifest: serde_json::json!({
                "homepage": "https://example.com",
                "author": {"name": "Ada", "email": "ada@example.com"},
                "contributors": ["Bob", {"name": "Cy"}, 7],
            }),
        };
        assert_eq!(npm.homepage().as_deref(), Some("https://example.com"));
        assert_eq!(npm.authors(), ["Ada <ada@example.com>", "Bob", "Cy"]);
        let old: VersionMetadata = serde_json::from_value(serde_json::json!({
            "format": "container", "media_type": "m", "size": 1
        }))
        .expect("metadata stored before url/authors existed");
        assert_eq!(old.homepage(), None);
        assert!(old.authors().is_empty());
    }
}
