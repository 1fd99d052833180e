//! Entry points for the fuzz targets (`fuzz/`): the NuGet parsers a client's bytes
//! reach, taking raw bytes and discarding the answer. Not an API.

/// A pushed `.nupkg`: the zip's checks, its root `.nuspec`, the fields push requires,
/// and the readme it names.
pub fn nupkg(data: &[u8]) {
    let limits = super::nupkg::ZipLimits {
        max_nuspec: 1 << 16,
        max_readme: 1 << 16,
        ..super::nupkg::LIMITS
    };
    let Ok(mut zip) = super::nupkg::open(std::io::Cursor::new(data), &limits) else {
        return;
    };
    let Ok(text) = super::nupkg::read_nuspec(&mut zip, &limits) else {
        return;
    };
    if let Ok(m) = super::nuspec::parse(&text) {
        let _ = super::nuspec::check_package_fields(&m);
        let _ = super::nupkg::read_text_file(&mut zip, "readme.md", limits.max_readme);
    }
}

/// A `.nuspec` document on its own.
pub fn nuspec(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(m) = super::nuspec::parse(text)
    {
        let _ = super::nuspec::check_package_fields(&m);
    }
}

/// Package ids, versions and version ranges from request paths and nuspecs.
pub fn paths_versions(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = super::paths::check_id(text);
    let _ = super::paths::version_in(text);
    if let Ok(v) = super::version::NugetVersion::parse(text) {
        let _ = (v.normalized(), v.full(), v.is_prerelease(), v.is_semver2());
    }
    let _ = super::version::normalize_range(text);
}
