//! Reading a pushed `.nupkg` / `.snupkg` (a zip): its `.nuspec` and readme, with bounded
//! decompression. The zip's central directory needs a seekable file, so the staged blob is
//! copied (streaming) to a private temporary file first; only the two small entries we read
//! are ever inflated, each through a hard byte limit whatever its header claims, and a
//! package whose entries claim an implausible size or ratio (a zip bomb) is refused whole.
use std::io::{Read, Seek};

use crate::error::{DomainError, DomainResult};

/// Bounds on what a package may claim.
#[derive(Clone, Copy, Debug)]
pub struct ZipLimits {
    pub max_entries: usize,
    /// The sum of the entries' uncompressed sizes.
    pub max_total_uncompressed: u64,
    /// The largest inflation ratio of an entry bigger than `ratio_floor` bytes.
    pub max_ratio: u64,
    pub ratio_floor: u64,
    pub max_nuspec: u64,
    pub max_readme: u64,
}

pub const LIMITS: ZipLimits = ZipLimits {
    max_entries: 20_000,
    max_total_uncompressed: 8 << 30,
    max_ratio: 100,
    ratio_floor: 1 << 20,
    max_nuspec: 1 << 20,
    max_readme: 1 << 20,
};

fn bad(msg: impl std::fmt::Display) -> DomainError {
    DomainError::invalid(format!("invalid package: {msg}"))
}

/// An entry's name as NuGet compares them: `/` separators, case-insensitive.
pub fn entry_key(name: &str) -> String {
    name.replace('\\', "/")
        .trim_start_matches('/')
        .to_ascii_lowercase()
}

/// Opens the zip and checks what its entries claim (count, sizes, ratios).
pub fn open<R: Read + Seek>(reader: R, limits: &ZipLimits) -> DomainResult<zip::ZipArchive<R>> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| bad(format!("not a zip file ({e})")))?;
    if zip.len() > limits.max_entries {
        return Err(bad(format!(
            "{} entries; at most {} are accepted",
            zip.len(),
            limits.max_entries
        )));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(bad)?;
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        if size > limits.ratio_floor && size / packed.max(1) > limits.max_ratio {
            return Err(bad(format!(
                "entry {:?} inflates {size} bytes from {packed}: refused as a zip bomb",
                entry.name()
            )));
        }
    }
    if total > limits.max_total_uncompressed {
        return Err(bad(format!(
            "the entries add up to {total} bytes uncompressed; at most {} are accepted",
            limits.max_total_uncompressed
        )));
    }
    Ok(zip)
}

/// Reads one entry, at most `max` bytes of it (whatever its header says).
fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    index: usize,
    max: u64,
    what: &str,
) -> DomainResult<Vec<u8>> {
    let entry = zip.by_index(index).map_err(bad)?;
    let mut out = Vec::new();
    entry
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("{what} can't be read ({e})")))?;
    if out.len() as u64 > max {
        return Err(bad(format!("{what} is larger than {max} bytes")));
    }
    Ok(out)
}

/// The `.nuspec` at the package's root (exactly one), as text.
pub fn read_nuspec<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    limits: &ZipLimits,
) -> DomainResult<String> {
    let found: Vec<usize> = (0..zip.len())
        .filter(|&i| {
            zip.name_for_index(i).is_some_and(|n| {
                let k = entry_key(n);
                !k.contains('/') && k.ends_with(".nuspec")
            })
        })
        .collect();
    let index = match found[..] {
        [one] => one,
        [] => return Err(bad("no .nuspec at the package's root")),
        _ => return Err(bad("more than one .nuspec at the package's root")),
    };
    let bytes = read_entry(zip, index, limits.max_nuspec, "the .nuspec")?;
    let text = String::from_utf8(bytes).map_err(|_| bad("the .nuspec is not UTF-8"))?;
    Ok(text.trim_start_matches('\u{feff}').to_string())
}

/// The file at `path` in the package (the `.nuspec`'s `<readme>`), as text.
pub fn read_text_file<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    path: &str,
    max: u64,
) -> DomainResult<Option<String>> {
    let want = entry_key(path);
    let index =
        (0..zip.len()).find(|&i| zip.name_for_index(i).is_some_and(|n| entry_key(n) == want));
    match index {
        None => Ok(None),
        Some(i) => {
            let bytes = read_entry(zip, i, max, path)?;
            Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(
                *name,
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )
            .expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn the_nuspec_and_readme_are_read() {
        let bytes = zip_of(&[
            ("Acme.nuspec", b"<package/>"),
            ("docs/README.md", b"# hi"),
            ("lib/net6.0/a.dll", b"MZ"),
        ]);
        let mut z = open(Cursor::new(bytes), &LIMITS).expect("zip");
        assert_eq!(read_nuspec(&mut z, &LIMITS).expect("nuspec"), "<package/>");
        assert_eq!(
            read_text_file(&mut z, "docs\\readme.md", 100)
                .expect("readme")
                .as_deref(),
            Some("# hi")
        );
        assert_eq!(read_text_file(&mut z, "missing.md", 100).expect("ok"), None);
    }

    #[test]
    fn bombs_and_oversized_entries_are_refused() {
        let zeros = vec![0u8; 4 << 20];
        let bytes = zip_of(&[("A.nuspec", b"<package/>"), ("big.bin", &zeros)]);
        let err = open(Cursor::new(bytes.clone()), &LIMITS).expect_err("a bomb");
        assert!(err.to_string().contains("zip bomb"), "{err}");
        let tight = ZipLimits {
            max_entries: 1,
            ..LIMITS
        };
        assert!(open(Cursor::new(bytes), &tight).is_err());
        let nuspec = vec![b'x'; 200];
        let bytes = zip_of(&[("A.nuspec", &nuspec)]);
        let small = ZipLimits {
            max_nuspec: 100,
            ..LIMITS
        };
        let mut z = open(Cursor::new(bytes), &small).expect("zip");
        assert!(read_nuspec(&mut z, &small).is_err());
        assert!(open(Cursor::new(b"not a zip".to_vec()), &LIMITS).is_err());
        let two = zip_of(&[("A.nuspec", b"a"), ("B.nuspec", b"b")]);
        let mut z = open(Cursor::new(two), &LIMITS).expect("zip");
        assert!(read_nuspec(&mut z, &LIMITS).is_err());
    }
}
