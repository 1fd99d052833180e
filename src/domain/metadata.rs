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
}
