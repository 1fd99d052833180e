//! NuGet: what the package's `.nuspec` says, as the NuGet door read it at push.
use serde::{Deserialize, Serialize};

use super::Description;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NugetMetadata {
    /// The id as the `.nuspec` writes it.
    pub id: String,
    /// The version as the `.nuspec` writes it (the version's name is its normalized form).
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_expression: Option<String>,
    /// A license shipped as a file in the package (`<license type="file">`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_url: Option<String>,
    #[serde(default)]
    pub require_license_acceptance: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// The readme file inside the package (`<readme>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readme_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_url: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copyright: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_client_version: Option<String>,
    #[serde(default)]
    pub dependency_groups: Vec<NugetDependencyGroup>,
    #[serde(default)]
    pub package_types: Vec<NugetPackageType>,
    /// Set through `Domain::update_version_metadata` (no client or GraphQL mutation sets it
    /// yet): registrations show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation: Option<NugetDeprecation>,
    /// The portable PDBs of the version's `.snupkg`, by SSQP key (set at the symbol push;
    /// the symbol server looks them up).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symbols: Vec<NugetSymbol>,
}

/// One portable PDB inside a `.snupkg`, and where its bytes lie in the stored zip, so the
/// symbol server streams it out (inflating on the fly) without opening the zip again.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NugetSymbol {
    /// `{file}/{guid}ffffffff/{file}`, lower-case (SSQP's portable PDB key).
    pub key: String,
    /// The entry's path in the `.snupkg`.
    pub entry: String,
    /// The offset of the entry's (compressed) data in the `.snupkg`.
    pub data_start: u64,
    pub compressed_size: u64,
    /// The PDB's size.
    pub size: u64,
    /// Deflated (else stored).
    pub deflated: bool,
    pub crc32: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NugetDependencyGroup {
    /// `None`: the group applies to every framework.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_framework: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<NugetDependency>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NugetDependency {
    pub id: String,
    /// The range in NuGet's normalized notation (`[1.0.0, )`).
    pub range: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NugetPackageType {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NugetDeprecation {
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl NugetMetadata {
    pub fn describe(&self) -> Description {
        Description {
            summary: self.description.clone().or_else(|| self.summary.clone()),
            license: self
                .license_expression
                .clone()
                .or_else(|| self.license_url.clone()),
            homepage: self.project_url.clone(),
            authors: self.authors.clone(),
            repository_url: self.repository_url.clone(),
        }
    }
}
