//! Entry points for the fuzz targets (`fuzz/`): the OCI door's parsers of a client's
//! bytes, taking raw bytes and discarding the answer. Not an API.

/// A pushed manifest or index (the first line is the request's content type).
pub fn manifest(data: &[u8]) {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (std::str::from_utf8(&data[..at]).ok(), &data[at + 1..]),
        None => (None, data),
    };
    if let Ok(parsed) = super::manifest::parse_manifest(body, content_type) {
        let labels = super::manifest::config_labels(body);
        let _ = parsed.into_image_manifest(bytes::Bytes::copy_from_slice(body), &labels);
    }
}

/// The `scope` parameters of a token request, one per line.
pub fn token_scopes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let scopes: Vec<String> = text.lines().map(str::to_string).collect();
    let _ = super::token::parse_scopes(&scopes);
}

/// A `/v2/...` path: the repository name, the endpoint, references and digests.
pub fn paths(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((name, _)) = super::names::parse_target(path) {
        let _ = super::names::parse_image(&name);
    }
    let _ = super::names::parse_reference(path);
    let _ = super::names::parse_digest(path);
}
