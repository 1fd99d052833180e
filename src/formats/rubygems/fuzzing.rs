//! Entry points for the fuzz targets (`fuzz/`): the RubyGems parsers a client's bytes
//! reach, taking raw bytes and discarding the answer. Not an API.

use crate::domain::OwnerName;

/// A pushed `.gem` (a tar of `metadata.gz`, `data.tar.gz`, `checksums.yaml.gz`).
pub fn gem_archive(data: &[u8]) {
    let _ = super::archive::inspect(data, 1 << 20);
}

/// A gemspec's YAML (`metadata` of a gem, gunzipped).
pub fn gemspec(data: &[u8]) {
    let _ = super::gemspec::parse(data);
}

/// Versions, platforms and `name-version-platform` file stems from request paths.
pub fn versions(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\n').unwrap_or((text, ""));
    let _ = super::version::check_version(a);
    let _ = super::version::check_platform(b);
    let _ = super::version::check_gem_name(a);
    let _ = super::version::is_prerelease(a);
    let _ = super::version::compare(a, b);
    if let Ok(owner) = OwnerName::parse("fuzz") {
        let _ = super::paths::split_full_name(&owner, a);
    }
}
