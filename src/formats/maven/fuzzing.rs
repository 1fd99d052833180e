//! Entry points for the fuzz targets (`fuzz/`): the Maven parsers a client's bytes
//! reach, taking raw bytes and discarding the answer. Not an API.

/// A deployed POM.
pub fn pom(data: &[u8]) {
    let _ = super::pom::parse(data);
}

/// A deployed `maven-metadata.xml`, as its sanity check reads it.
pub fn metadata(data: &[u8]) {
    let _ = super::metadata_xml::check_uploaded(data, None);
}

/// A repository path (`group/artifact/version/file`), and the snapshot file names in it.
pub fn paths(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let _ = super::paths::parse_target(path);
    let (artifact, rest) = path.split_once('\n').unwrap_or((path, ""));
    let (version, name) = rest.split_once('\n').unwrap_or((rest, ""));
    let _ = super::metadata_xml::snapshot_file(artifact, version, name);
}
