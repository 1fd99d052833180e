//! Entry points for the fuzz targets (`fuzz/`): the npm parsers a client's bytes reach,
//! taking raw bytes and discarding the answer (only a panic or a runaway allocation is a
//! finding). Not an API.

/// A publish or update document through the streaming splitter, fed in two chunks split
/// at the first byte's value (so chunk boundaries fall everywhere), then deserialised as
/// the publish and update handlers do.
pub fn publish_document(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = (split as usize).min(rest.len());
    let mut splitter = super::document::DocumentSplitter::new(64 * 1024, 1 << 20);
    let mut decoded = Vec::new();
    for chunk in [&rest[..at], &rest[at..]] {
        if splitter.feed(chunk, &mut decoded).is_err() {
            return;
        }
        decoded.clear();
    }
    if let Ok((meta, _)) = splitter.finish() {
        let _ = serde_json::from_slice::<super::document::PublishDocument>(&meta);
        let _ = serde_json::from_slice::<super::document::UpdateDocument>(&meta);
    }
}

/// A package tarball, as publish inspects it.
pub fn tarball(data: &[u8]) {
    let _ = super::tarball::inspect(data);
}

/// Package names and tarball file names from request paths.
pub fn paths(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (name, file) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(r) = super::paths::package_ref(name) {
        let _ = super::paths::version_from_file(&r, file);
    }
    let _ = super::paths::check_tag(file);
}
