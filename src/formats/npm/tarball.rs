//! Reading `package/package.json` and the README out of a published tarball, bounded so a
//! compression bomb can't make us read forever.
use std::io::Read;

use crate::error::DomainError;

const MANIFEST_MAX: u64 = 1024 * 1024;
const README_MAX: u64 = 1024 * 1024;
/// Decompressed bytes we are willing to walk through looking for the manifest.
const SCAN_MAX: u64 = 1024 * 1024 * 1024;

pub struct TarballContents {
    pub manifest: serde_json::Value,
    pub readme: Option<String>,
    /// Regular files and their total size once unpacked (`dist.fileCount`,
    /// `dist.unpackedSize`); `None` when the walk stopped at the scan limit.
    pub unpacked: Option<Unpacked>,
    /// Whether it ships `npm-shrinkwrap.json` (npm then installs the locked tree).
    pub has_shrinkwrap: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unpacked {
    pub files: u64,
    pub bytes: u64,
}

/// Walks a `.tgz`, returning its `package.json` (required) and README (optional).
pub fn inspect(reader: impl Read) -> Result<TarballContents, DomainError> {
    let bad =
        |e: std::io::Error| DomainError::invalid(format!("the tarball is not a valid .tgz: {e}"));
    let gz = flate2::read::GzDecoder::new(reader).take(SCAN_MAX);
    let mut archive = tar::Archive::new(gz);
    let mut manifest = None;
    let mut readme = None;
    let mut unpacked = Some(Unpacked { files: 0, bytes: 0 });
    let mut has_shrinkwrap = false;
    for entry in archive.entries().map_err(bad)? {
        // Past the manifest, an archive too big to walk whole only loses its totals.
        let mut entry = match entry {
            Ok(e) => e,
            Err(_) if manifest.is_some() => {
                unpacked = None;
                break;
            }
            Err(e) => return Err(bad(e)),
        };
        if entry.header().entry_type().is_file()
            && let Some(u) = unpacked.as_mut()
        {
            u.files += 1;
            u.bytes += entry.size();
        }
        let path = entry.path().map_err(bad)?.to_string_lossy().to_string();
        // npm packs under `package/`, but any single top-level directory is accepted.
        let Some((_, inner)) = path.split_once('/') else {
            continue;
        };
        if inner == "npm-shrinkwrap.json" {
            has_shrinkwrap = true;
        }
        if inner == "package.json" {
            if entry.size() > MANIFEST_MAX {
                return Err(DomainError::invalid(
                    "package.json in the tarball is too large",
                ));
            }
            let mut text = String::new();
            (&mut entry)
                .take(MANIFEST_MAX)
                .read_to_string(&mut text)
                .map_err(bad)?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| DomainError::invalid(format!("package.json in the tarball: {e}")))?;
            manifest = Some(value);
        } else if readme.is_none()
            && !inner.contains('/')
            && inner.to_ascii_lowercase().starts_with("readme")
        {
            // Whatever its encoding (or a cut inside a character), a README never fails the
            // publish: it is shown as best we can.
            let mut bytes = Vec::new();
            (&mut entry)
                .take(README_MAX)
                .read_to_end(&mut bytes)
                .map_err(bad)?;
            readme = Some(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let manifest =
        manifest.ok_or_else(|| DomainError::invalid("the tarball has no package/package.json"))?;
    Ok(TarballContents {
        manifest,
        readme,
        unpacked,
        has_shrinkwrap,
    })
}

#[cfg(test)]
pub(crate) fn make_tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, *data)
            .expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_manifest_and_readme() {
        let tgz = make_tgz(&[
            ("package/index.js", b"module.exports = 1"),
            ("package/README.md", b"# Hello"),
            (
                "package/package.json",
                br#"{"name":"@a/b","version":"1.0.0"}"#,
            ),
        ]);
        let c = inspect(tgz.as_slice()).expect("valid");
        assert_eq!(c.manifest["version"], "1.0.0");
        assert_eq!(c.readme.as_deref(), Some("# Hello"));
        assert_eq!(
            c.unpacked,
            Some(Unpacked {
                files: 3,
                bytes: 18 + 7 + 33
            })
        );
    }

    #[test]
    fn a_readme_in_another_encoding_is_shown_lossily() {
        let tgz = make_tgz(&[
            ("package/README", b"caf\xe9"),
            (
                "package/package.json",
                br#"{"name":"@a/b","version":"1.0.0"}"#,
            ),
        ]);
        let c = inspect(tgz.as_slice()).expect("valid");
        assert_eq!(c.readme.as_deref(), Some("caf\u{fffd}"));
    }

    #[test]
    fn refuses_garbage_and_missing_manifest() {
        assert!(inspect(&b"not gzip"[..]).is_err());
        let tgz = make_tgz(&[("package/index.js", b"x")]);
        assert!(inspect(tgz.as_slice()).is_err());
        let tgz = make_tgz(&[("package/package.json", b"{not json")]);
        assert!(inspect(tgz.as_slice()).is_err());
    }
}
