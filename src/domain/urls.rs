//! Where each format serves a file: the URL layout of ARCHITECTURE.md as one function, so
//! the GraphQL API and webhooks hand out the same links the native doors answer.
use crate::domain::types::PackageType;

/// The download URL of a file, absolute from the public base URL.
pub fn file_url(
    base: &str,
    package_type: PackageType,
    owner: &str,
    name: &str,
    version: &str,
    file: &str,
    sha256: &str,
) -> Option<String> {
    match package_type {
        PackageType::Generic => Some(format!("{base}/generic/{owner}/{name}/{version}/{file}")),
        PackageType::Npm => Some(format!("{base}/npm/@{owner}/{name}/-/{file}")),
        PackageType::Container => Some(format!("{base}/v2/{owner}/{name}/blobs/sha256:{sha256}")),
        PackageType::Maven | PackageType::Rubygems | PackageType::Nuget => None,
    }
}
