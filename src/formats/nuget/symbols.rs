//! The symbol server: the portable PDBs of pushed `.snupkg`s, served by the Simple Symbol
//! Query Protocol (SSQP, as `symbols.nuget.org/download/symbols/{key}` serves nuget.org's)
//! at `/nuget/{owner}/symbols/{key}`, the URL Visual Studio, dotnet-symbol and WinDbg are
//! configured with.
//!
//! At a symbol push every `.pdb` of the `.snupkg` is read (bounded, streaming: `pdb.rs`),
//! and its SSQP key is stored in the version's metadata with where its bytes lie in the
//! stored zip. A lookup goes through the owner's NuGet packages the caller may read (their
//! cached indexes), the package named like the PDB first; the PDB is streamed out of the
//! stored `.snupkg` by a range read of its entry, inflated on the fly and checked against
//! its CRC-32. Symbols count no download (the `.snupkg` is not a lead file).
use std::io::{Read, Seek};

use axum::{
    body::Body,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};

use crate::{
    auth::Actor,
    domain::{
        FileName, OwnerName, PackageName, PackageType, VersionName,
        download::ByteRange,
        metadata::{NugetSymbol, VersionMetadata},
        packages::{PackageFilter, PackageOrder, PackageRef},
    },
    error::{DomainError, DomainResult, What},
    formats::kit::path::{PathGrammar, PathParams, Valid},
    state::AppState,
};

use super::{
    NugetActor, NugetResult,
    nupkg::entry_key,
    paths::{Nuget, package_file_name, package_ref},
    pdb::{self, PdbError},
};

/// nuget.org's words for a `.snupkg` with a Windows PDB.
pub const NOT_PORTABLE: &str =
    "The uploaded symbols package contains one or more pdbs that are not portable.";
/// nuget.org's words for a `.snupkg` without a PDB.
pub const NO_SYMBOLS: &str = "The uploaded symbols package does not contain any symbol files.";

/// Reads the id of every `.pdb` in a `.snupkg` (already opened with the zip bounds):
/// their keys and where their bytes lie. Any PDB that isn't portable refuses the package.
pub fn read_symbols<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
) -> DomainResult<Vec<NugetSymbol>> {
    let mut found: Vec<NugetSymbol> = Vec::new();
    for i in 0..zip.len() {
        let Some(name) = zip.name_for_index(i).map(str::to_string) else {
            continue;
        };
        let path = entry_key(&name);
        if !path.ends_with(".pdb") {
            continue;
        }
        let mut entry = zip
            .by_index(i)
            .map_err(|e| DomainError::invalid(format!("invalid package: {name}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let deflated = match entry.compression() {
            zip::CompressionMethod::Stored => false,
            zip::CompressionMethod::Deflated => true,
            other => {
                return Err(DomainError::invalid(format!(
                    "invalid package: {name} is compressed with {other}; use deflate"
                )));
            }
        };
        let file_name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let symbol = NugetSymbol {
            key: String::new(),
            entry: name.clone(),
            data_start: entry.data_start(),
            compressed_size: entry.compressed_size(),
            size: entry.size(),
            deflated,
            crc32: entry.crc32(),
        };
        let id = pdb::read_id(&mut entry).map_err(|e| match e {
            PdbError::Windows => DomainError::invalid(NOT_PORTABLE),
            PdbError::Invalid(_) => {
                DomainError::invalid(format!("invalid symbol package: {name} is {e}"))
            }
        })?;
        let key = id.ssqp_key(&file_name);
        // The same PDB twice (one build in two folders) is served once.
        if !found.iter().any(|s| s.key == key) {
            found.push(NugetSymbol { key, ..symbol });
        }
    }
    if found.is_empty() {
        return Err(DomainError::invalid(NO_SYMBOLS));
    }
    Ok(found)
}

/// Stores the keys read at the push in the version's metadata (the `.snupkg` was just added
/// to it by the caller, who may write).
pub async fn record(
    state: &AppState,
    actor: &Actor,
    r: &PackageRef,
    version: &VersionName,
    symbols: Vec<NugetSymbol>,
) -> DomainResult<()> {
    let (_, v) = state.domain.find_version(actor, r, version).await?;
    let VersionMetadata::Nuget(mut meta) = v.metadata else {
        return Err(DomainError::internal(format_args!(
            "version {version} of {} has no NuGet metadata",
            r.name
        )));
    };
    meta.symbols = symbols;
    state
        .domain
        .update_version_metadata(actor, r, version, VersionMetadata::Nuget(meta))
        .await?;
    Ok(())
}

/// `/nuget/{owner}/symbols/{file}/{signature}/{file}` (the key's `/` may come escaped as
/// `%2F`, as dotnet-symbol sends it): compared lower-case.
pub(super) struct SymbolKey {
    owner: OwnerName,
    key: String,
}

impl PathGrammar for SymbolKey {
    fn from_params(p: &PathParams) -> DomainResult<Self> {
        let owner = OwnerName::parse(p.get("owner")?)?;
        let key = p.get("key")?.to_lowercase();
        let parts: Vec<&str> = key.split('/').collect();
        // The portable PDB key: `{file}/{32 hex}ffffffff/{file}`; the PDB keys Windows
        // debuggers also ask (`{guid}{age}`, `.pd_`, `file.ptr`) are never stored here.
        let shaped = matches!(parts[..], [a, sig, b] if a == b && a.ends_with(".pdb")
            && sig.len() == 40 && sig.ends_with("ffffffff")
            && sig.bytes().all(|c| c.is_ascii_hexdigit()));
        if !shaped {
            return Err(DomainError::not_found(
                What::File,
                format!("no symbols with key {key}"),
            ));
        }
        Ok(Self { owner, key })
    }
}

/// Where a key's PDB is stored.
struct Found {
    package: PackageRef,
    version: VersionName,
    file: FileName,
    symbol: NugetSymbol,
}

/// Packages read from the database in pages of this many while looking.
const LOOKUP_BATCH: u64 = 500;

/// The package, of those `actor` may read, whose version holds the PDB of `key`.
async fn find(
    state: &AppState,
    actor: &Actor,
    owner: &OwnerName,
    key: &str,
) -> DomainResult<Found> {
    // Private and nonexistent alike: an anonymous caller is challenged (existence isn't
    // leaked), a signed-in one who may not read it is told it isn't there.
    let missing = || {
        if actor.is_anonymous() {
            DomainError::Unauthenticated("sign in to read these symbols".into())
        } else {
            DomainError::not_found(What::File, format!("no symbols with key {key}"))
        }
    };
    let account = match state.domain.find_account(owner).await {
        Ok(a) => a,
        Err(DomainError::NotFound { .. }) => return Err(missing()),
        Err(e) => return Err(e),
    };
    // A PDB is most often named after its package (`Acme.Core.pdb` in `Acme.Core`).
    let stem = key.split('/').next().unwrap_or("").trim_end_matches(".pdb");
    let first = package_ref(owner, stem).ok();
    if let Some(r) = &first
        && let Some(found) = look_in(state, actor, r, key).await?
    {
        return Ok(found);
    }
    let filter = PackageFilter {
        owner_id: Some(account.id),
        package_type: Some(PackageType::Nuget),
        ..Default::default()
    };
    let mut offset = 0;
    loop {
        let (page, total) = state
            .domain
            .list_packages(actor, &filter, PackageOrder::NameAsc, offset, LOOKUP_BATCH)
            .await?;
        for p in &page {
            if first
                .as_ref()
                .is_some_and(|r| r.name.as_str().eq_ignore_ascii_case(&p.name))
            {
                continue;
            }
            let r = PackageRef {
                owner: owner.clone(),
                package_type: PackageType::Nuget,
                name: PackageName::parse(&p.name)?,
            };
            if let Some(found) = look_in(state, actor, &r, key).await? {
                return Ok(found);
            }
        }
        offset += page.len() as u64;
        if page.is_empty() || offset >= total {
            return Err(missing());
        }
    }
}

/// The version of package `r` holding `key`'s PDB, if `actor` may read it and its `.snupkg`
/// is still there.
async fn look_in(
    state: &AppState,
    actor: &Actor,
    r: &PackageRef,
    key: &str,
) -> DomainResult<Option<Found>> {
    let index = match state.domain.package_index(actor, r).await {
        Ok(index) => index,
        Err(
            DomainError::NotFound { .. }
            | DomainError::Unauthenticated(_)
            | DomainError::Forbidden(_),
        ) => return Ok(None),
        Err(e) => return Err(e),
    };
    for v in &index.versions {
        let VersionMetadata::Nuget(meta) = &v.version.metadata else {
            continue;
        };
        let Some(symbol) = meta.symbols.iter().find(|s| s.key == key) else {
            continue;
        };
        let version = VersionName::parse(&v.version.version)?;
        let file = package_file_name(&index.package.name, &version, "snupkg");
        if v.files.iter().any(|f| f.name == file) {
            return Ok(Some(Found {
                package: r.clone(),
                version,
                file: FileName::parse(&file)?,
                symbol: symbol.clone(),
            }));
        }
    }
    Ok(None)
}

/// `GET /nuget/{owner}/symbols/{key}`: the PDB, streamed out of its `.snupkg`.
pub(super) async fn symbol_file(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(SymbolKey { owner, key }, _): Nuget<SymbolKey>,
) -> NugetResult {
    let actor = actor.into_inner();
    let found = find(&state, &actor, &owner, &key).await?;
    let s = &found.symbol;
    if s.compressed_size == 0 {
        return Err(DomainError::internal(format_args!("symbol {key}: an empty entry")).into());
    }
    let range = ByteRange::From {
        start: s.data_start,
        end: Some(s.data_start.saturating_add(s.compressed_size - 1)),
    };
    let download = state
        .domain
        .open_file(
            &actor,
            &found.package,
            &found.version,
            &found.file,
            Some(range),
        )
        .await?;
    if download.read.range.end - download.read.range.start != s.compressed_size {
        return Err(DomainError::internal(format_args!(
            "symbol {key}: the entry lies past the end of {}",
            found.file
        ))
        .into());
    }
    let body = Body::from_stream(inflate(download.read.stream.boxed(), s.clone()));
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(s.size));
    Ok(response)
}

/// A zip entry's data, inflated (or passed through, if stored) chunk by chunk, checked
/// against its size and CRC-32: a mismatch ends the stream with an error (the response is
/// cut short, never completed with wrong bytes).
struct Inflater {
    decompress: Option<flate2::Decompress>,
    crc: flate2::Crc,
    /// Bytes produced so far.
    out: u64,
    size: u64,
    crc32: u32,
    ended: bool,
}

/// Output is produced in pieces of at most this many bytes.
const OUT_CHUNK: usize = 64 * 1024;

fn corrupt(why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("symbol entry {why}"),
    )
}

impl Inflater {
    fn new(symbol: &NugetSymbol) -> Self {
        Self {
            decompress: symbol.deflated.then(|| flate2::Decompress::new(false)),
            crc: flate2::Crc::new(),
            out: 0,
            size: symbol.size,
            crc32: symbol.crc32,
            ended: false,
        }
    }

    /// Consumes some of `input` (advancing it) and returns what it inflates to.
    fn step(&mut self, input: &mut Bytes) -> std::io::Result<Bytes> {
        let out = match &mut self.decompress {
            None => std::mem::take(input),
            Some(d) => {
                let before = d.total_in();
                let mut buf = Vec::with_capacity(OUT_CHUNK);
                let status = d
                    .decompress_vec(input, &mut buf, flate2::FlushDecompress::None)
                    .map_err(|_| corrupt("is not valid deflate data"))?;
                let used = usize::try_from(d.total_in() - before).unwrap_or(usize::MAX);
                *input = input.slice(used.min(input.len())..);
                if status == flate2::Status::StreamEnd {
                    self.ended = true;
                } else if used == 0 && buf.is_empty() {
                    return Err(corrupt("makes no progress"));
                }
                Bytes::from(buf)
            }
        };
        self.crc.update(&out);
        self.out += out.len() as u64;
        if self.out > self.size {
            return Err(corrupt("inflates past its size"));
        }
        Ok(out)
    }

    /// At the input's end: whether everything arrived intact.
    fn finish(&self) -> std::io::Result<()> {
        if self.decompress.is_some() && !self.ended {
            return Err(corrupt("is truncated"));
        }
        if self.out != self.size || self.crc.sum() != self.crc32 {
            return Err(corrupt("does not match its size and CRC-32"));
        }
        Ok(())
    }
}

fn inflate(
    input: BoxStream<'static, std::io::Result<Bytes>>,
    symbol: NugetSymbol,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send {
    let state = (input, Bytes::new(), Inflater::new(&symbol), false);
    futures::stream::try_unfold(
        state,
        |(mut input, mut pending, mut inflater, done)| async move {
            if done {
                return Ok(None);
            }
            loop {
                if pending.is_empty() && !inflater.ended {
                    match input.next().await {
                        Some(chunk) => {
                            pending = chunk?;
                            continue;
                        }
                        None => {
                            inflater.finish()?;
                            return Ok(None);
                        }
                    }
                }
                let out = inflater.step(&mut pending)?;
                if inflater.ended {
                    inflater.finish()?;
                    return Ok(Some((out, (input, pending, inflater, true))));
                }
                if !out.is_empty() {
                    return Ok(Some((out, (input, pending, inflater, false))));
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use futures::TryStreamExt;

    use super::*;
    use crate::formats::nuget::nupkg;

    fn fixture() -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/nuget/ClrLoader.pdb"),
        )
        .expect("the fixture")
    }

    fn zip_of(files: &[(&str, &[u8], zip::CompressionMethod)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data, method) in files {
            w.start_file(
                *name,
                zip::write::SimpleFileOptions::default().compression_method(*method),
            )
            .expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    fn symbols_of(bytes: &[u8]) -> DomainResult<Vec<NugetSymbol>> {
        let mut z = nupkg::open(Cursor::new(bytes.to_vec()), &nupkg::LIMITS)?;
        read_symbols(&mut z)
    }

    /// Serves `symbol` out of `zip` as the handler does: its data range, in small chunks.
    async fn served(zip: &[u8], symbol: &NugetSymbol, chunk: usize) -> std::io::Result<Vec<u8>> {
        let start = symbol.data_start as usize;
        let data = zip[start..start + symbol.compressed_size as usize].to_vec();
        let chunks: Vec<std::io::Result<Bytes>> = data
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let out: Vec<Bytes> = inflate(futures::stream::iter(chunks).boxed(), symbol.clone())
            .try_collect()
            .await?;
        Ok(out.concat())
    }

    #[tokio::test]
    async fn pdbs_are_keyed_and_served_back_byte_for_byte() {
        let pdb = fixture();
        let zip = zip_of(&[
            (
                "Acme.nuspec",
                b"<package/>",
                zip::CompressionMethod::Deflated,
            ),
            (
                "lib/net6.0/ClrLoader.pdb",
                &pdb,
                zip::CompressionMethod::Deflated,
            ),
            (
                "lib\\net45\\ClrLoader.pdb",
                &pdb,
                zip::CompressionMethod::Stored,
            ),
        ]);
        let symbols = symbols_of(&zip).expect("symbols");
        assert_eq!(symbols.len(), 1, "the same PDB twice is one key");
        assert_eq!(
            symbols[0].key,
            "clrloader.pdb/95f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/clrloader.pdb"
        );
        for chunk in [1, 7, 4096, 1 << 20] {
            assert_eq!(served(&zip, &symbols[0], chunk).await.expect("served"), pdb);
        }
        let stored = zip_of(&[("a/ClrLoader.pdb", &pdb, zip::CompressionMethod::Stored)]);
        let s = symbols_of(&stored).expect("symbols");
        assert!(!s[0].deflated);
        assert_eq!(served(&stored, &s[0], 100).await.expect("served"), pdb);
    }

    #[tokio::test]
    async fn damaged_entries_end_the_stream_with_an_error() {
        let pdb = fixture();
        let zip = zip_of(&[("ClrLoader.pdb", &pdb, zip::CompressionMethod::Deflated)]);
        let s = symbols_of(&zip).expect("symbols").remove(0);
        let wrong_crc = NugetSymbol {
            crc32: s.crc32 ^ 1,
            ..s.clone()
        };
        assert!(served(&zip, &wrong_crc, 512).await.is_err());
        let short = NugetSymbol {
            compressed_size: s.compressed_size / 2,
            ..s.clone()
        };
        assert!(served(&zip, &short, 512).await.is_err());
        let small = NugetSymbol {
            size: 100,
            ..s.clone()
        };
        assert!(served(&zip, &small, 512).await.is_err());
        let mut garbage = zip.clone();
        let at = s.data_start as usize;
        garbage[at..at + 16].copy_from_slice(&[0xFF; 16]);
        assert!(served(&garbage, &s, 512).await.is_err());
    }

    #[test]
    fn windows_garbage_and_missing_pdbs_refuse_the_package() {
        let mut msf = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0".to_vec();
        msf.resize(8192, 0);
        let deflate = zip::CompressionMethod::Deflated;
        let err = symbols_of(&zip_of(&[
            ("lib/a/Good.pdb", &fixture(), deflate),
            ("lib/a/Native.pdb", &msf, deflate),
        ]))
        .expect_err("a Windows PDB");
        assert_eq!(err.to_string(), NOT_PORTABLE);
        let err = symbols_of(&zip_of(&[("lib/a/tool.pdb", b"not really a pdb", deflate)]))
            .expect_err("garbage");
        assert!(err.to_string().contains("lib/a/tool.pdb"), "{err}");
        let err = symbols_of(&zip_of(&[("lib/a/a.dll", b"MZ", deflate)])).expect_err("none");
        assert_eq!(err.to_string(), NO_SYMBOLS);
    }

    #[test]
    fn keys_are_matched_by_shape_without_case() {
        let params = |key: &str| {
            PathParams::new(
                [("owner", "ada"), ("key", key)]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let k = SymbolKey::from_params(&params(
            "ClrLoader.pdb/95F8F6B2AFBC45E4884CB4A5BF5ADDD2FFFFFFFF/ClrLoader.pdb",
        ))
        .map(|k| k.key)
        .ok();
        assert_eq!(
            k.as_deref(),
            Some("clrloader.pdb/95f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/clrloader.pdb")
        );
        for bad in [
            "clrloader.pdb/95f8f6b2afbc45e4884cb4a5bf5addd21/clrloader.pdb",
            "clrloader.pdb/95f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/other.pdb",
            "clrloader.dll/95f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/clrloader.dll",
            "clrloader.pdb/95f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/file.ptr",
            "index2.txt",
            "a/../b",
        ] {
            assert!(SymbolKey::from_params(&params(bad)).is_err(), "{bad}");
        }
    }
}
