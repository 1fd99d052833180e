//! A `.gem` read back from staging: a tar of `metadata.gz` (the gemspec), `data.tar.gz`
//! (the files) and `checksums.yaml.gz`. Each entry is hashed as it is read; only the
//! gemspec is decompressed, bounded; the checksums file must agree with the entries.
use std::{collections::BTreeMap, io::Read};

use sha2::{Digest, Sha256, Sha512};

use crate::error::{DomainError, DomainResult};

use super::gemspec::{self, GemSpec};

/// The largest `checksums.yaml` (decompressed).
const CHECKSUMS_MAX: u64 = 64 * 1024;
/// A `.gem` has three entries, and signatures for each when signed.
const ENTRIES_MAX: usize = 16;

fn invalid(msg: impl std::fmt::Display) -> DomainError {
    DomainError::invalid(format!("invalid .gem: {msg}"))
}

/// Reads the archive: the gemspec (at most `metadata_max` bytes decompressed), checked
/// against `checksums.yaml` when present.
pub fn inspect(reader: impl Read, metadata_max: u64) -> DomainResult<GemSpec> {
    let mut archive = tar::Archive::new(reader);
    let mut metadata: Option<Vec<u8>> = None;
    let mut checksums: Option<Vec<u8>> = None;
    let mut has_data = false;
    // entry name → (sha256, sha512) of its bytes as stored.
    let mut digests: BTreeMap<String, (String, String)> = BTreeMap::new();
    let entries = archive.entries().map_err(invalid)?;
    for (n, entry) in entries.enumerate() {
        if n >= ENTRIES_MAX {
            return Err(invalid("too many entries"));
        }
        let mut entry = entry.map_err(invalid)?;
        let path = entry.path().map_err(invalid)?.to_string_lossy().to_string();
        let mut hashing = Hashing::default();
        match path.as_str() {
            "metadata.gz" => {
                metadata = Some(gunzip(
                    &mut HashRead(&mut entry, &mut hashing),
                    metadata_max,
                    "metadata.gz",
                )?);
                // The rest of the entry (after the gzip stream) counts for the digest too.
                std::io::copy(
                    &mut HashRead(&mut entry, &mut hashing),
                    &mut std::io::sink(),
                )
                .map_err(invalid)?;
            }
            "checksums.yaml.gz" => {
                checksums = Some(gunzip(&mut entry, CHECKSUMS_MAX, "checksums.yaml.gz")?);
                continue;
            }
            "data.tar.gz" => {
                has_data = true;
                std::io::copy(
                    &mut HashRead(&mut entry, &mut hashing),
                    &mut std::io::sink(),
                )
                .map_err(invalid)?;
            }
            // Signatures (`*.sig`) and anything else: hashed, not read.
            _ => {
                std::io::copy(
                    &mut HashRead(&mut entry, &mut hashing),
                    &mut std::io::sink(),
                )
                .map_err(invalid)?;
            }
        }
        digests.insert(path, hashing.finish());
    }
    let metadata = metadata.ok_or_else(|| invalid("no metadata.gz"))?;
    if !has_data {
        return Err(invalid("no data.tar.gz"));
    }
    if let Some(sums) = checksums {
        verify_checksums(&sums, &digests)?;
    }
    gemspec::parse(&metadata)
}

/// Decompresses at most `max` bytes; more is a refusal (a gzip bomb stops here).
fn gunzip(reader: &mut impl Read, max: u64, what: &str) -> DomainResult<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(reader)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| invalid(format!("{what}: {e}")))?;
    if out.len() as u64 > max {
        return Err(invalid(format!(
            "{what} is larger than {max} bytes uncompressed"
        )));
    }
    Ok(out)
}

/// `checksums.yaml`: `{SHA256: {metadata.gz: hex, data.tar.gz: hex}, SHA512: {...}}`.
/// Every digest it lists for an entry must be that entry's; an entry it names that the
/// archive lacks is refused.
fn verify_checksums(yaml: &[u8], digests: &BTreeMap<String, (String, String)>) -> DomainResult<()> {
    let doc: BTreeMap<String, BTreeMap<String, String>> =
        serde_yaml::from_slice(yaml).map_err(|e| invalid(format!("checksums.yaml: {e}")))?;
    for (algorithm, entries) in &doc {
        for (entry, expected) in entries {
            let Some((sha256, sha512)) = digests.get(entry) else {
                return Err(invalid(format!(
                    "checksums.yaml names {entry}, which the archive lacks"
                )));
            };
            let actual = match algorithm.as_str() {
                "SHA256" => sha256,
                "SHA512" => sha512,
                // SHA1 (old RubyGems) and others: not checked.
                _ => continue,
            };
            if !expected.eq_ignore_ascii_case(actual) {
                return Err(DomainError::DigestMismatch {
                    expected: format!("{algorithm} {entry} {expected}"),
                    actual: format!("{algorithm} {entry} {actual}"),
                });
            }
        }
    }
    Ok(())
}

#[derive(Default)]
struct Hashing {
    sha256: Sha256,
    sha512: Sha512,
}

impl Hashing {
    fn finish(self) -> (String, String) {
        (
            hex::encode(self.sha256.finalize()),
            hex::encode(self.sha512.finalize()),
        )
    }
}

struct HashRead<'a, R>(&'a mut R, &'a mut Hashing);

impl<R: Read> Read for HashRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1.sha256.update(&buf[..n]);
        self.1.sha512.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// The default limit (`Limits::gem_metadata_bytes`).
    const METADATA_MAX: u64 = 2 * 1024 * 1024;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    }

    fn gem(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o444);
            h.set_cksum();
            b.append_data(&mut h, name, data.as_slice()).expect("tar");
        }
        b.into_inner().expect("tar")
    }

    fn sha256(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    #[test]
    fn reads_a_gem_and_checks_its_checksums() {
        let metadata = gz(gemspec::tests::SPEC.as_bytes());
        let data = gz(b"not really a tar");
        let sums = format!(
            "---\nSHA256:\n  metadata.gz: {}\n  data.tar.gz: {}\n",
            sha256(&metadata),
            sha256(&data)
        );
        let good = gem(&[
            ("metadata.gz", metadata.clone()),
            ("data.tar.gz", data.clone()),
            ("checksums.yaml.gz", gz(sums.as_bytes())),
        ]);
        assert_eq!(
            inspect(good.as_slice(), METADATA_MAX).expect("valid").name,
            "tool"
        );

        let wrong = sums.replace(&sha256(&data), &sha256(b"other"));
        let tampered = gem(&[
            ("metadata.gz", metadata.clone()),
            ("data.tar.gz", data.clone()),
            ("checksums.yaml.gz", gz(wrong.as_bytes())),
        ]);
        assert!(matches!(
            inspect(tampered.as_slice(), METADATA_MAX),
            Err(DomainError::DigestMismatch { .. })
        ));
        let no_data = gem(&[("metadata.gz", metadata)]);
        assert!(inspect(no_data.as_slice(), METADATA_MAX).is_err());
        assert!(inspect(&b"garbage"[..], METADATA_MAX).is_err());
    }

    #[test]
    fn refuses_a_metadata_bomb() {
        let bomb = gz(&vec![b' '; (METADATA_MAX + 10) as usize]);
        assert!(bomb.len() < 64 * 1024, "compresses well");
        let archive = gem(&[("metadata.gz", bomb), ("data.tar.gz", gz(b"x"))]);
        let err = inspect(archive.as_slice(), METADATA_MAX).expect_err("bomb refused");
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
