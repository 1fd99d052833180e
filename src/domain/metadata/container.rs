//! Containers: what a manifest GET must answer with, and what the referrers API and GraphQL
//! show.
use serde::{Deserialize, Serialize};

use super::Description;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ContainerMetadata {
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The digest of the manifest this one refers to (signatures, SBOMs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default)]
    pub annotations: serde_json::Map<String, serde_json::Value>,
    pub size: u64,
    /// Platforms of an index's manifests, or the config/layer digests of an image.
    #[serde(default)]
    pub references: Vec<String>,
    /// The platform an index names for each of its manifests, in the index's order (only
    /// children that name one). Absent in rows stored before it was kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<ChildPlatform>,
    /// `org.opencontainers.image.url` (annotation or label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `org.opencontainers.image.authors` (annotation or label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authors: Option<String>,
    /// `org.opencontainers.image.description` (annotation or label). Absent in rows stored
    /// before it was kept here (their summary column has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `org.opencontainers.image.licenses` (annotation or label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<String>,
    /// `org.opencontainers.image.source` (annotation or label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What a manifest of an index runs on (image spec, `image-index.md`, `platform`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
}

/// One manifest of an index and the platform the index names for it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChildPlatform {
    pub digest: String,
    #[serde(flatten)]
    pub platform: Platform,
}

impl ContainerMetadata {
    pub fn describe(&self) -> Description {
        Description {
            summary: self.description.clone(),
            license: self.licenses.clone(),
            homepage: self.url.clone(),
            // The label as written: OCI gives it no structure to split on.
            authors: self.authors.iter().cloned().collect(),
            repository_url: self.source.clone(),
        }
    }
}
