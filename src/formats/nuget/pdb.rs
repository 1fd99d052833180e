//! Portable PDBs, as far as a symbol server needs them: the PDB id that names one in the
//! Simple Symbol Query Protocol (SSQP, dotnet/symstore's `SSQP_Key_Conventions.md`).
//!
//! A portable PDB is ECMA-335 metadata: the metadata root (signature `BSJB`, a version
//! string, stream headers), whose `#Pdb` stream opens with the 20-byte PDB id (a 16-byte
//! GUID and a 4-byte stamp). Its SSQP key is `{file}/{guid}FFFFFFFF/{file}`: the GUID as
//! 32 hex digits (its three integers big-endian, then its 8 bytes), the "age" of Windows
//! PDBs fixed at `FFFFFFFF`. Keys compare without case; this module writes them lower-case.
//!
//! Windows PDBs (MSF containers) are recognized only to be refused, as nuget.org refuses
//! them in a `.snupkg`. Everything here reads untrusted bytes: every offset is checked,
//! nothing panics, and at most [`MAX_HEAD`] bytes (plus the id) are held in memory.
use std::io::{self, Read};

/// The metadata root's signature, `BSJB` little-endian.
const METADATA_SIGNATURE: u32 = 0x424A_5342;

/// How much of the file the header (root, version string, stream headers) may take.
pub const MAX_HEAD: usize = 64 * 1024;

/// The ways a `.pdb` may fail to be a portable PDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PdbError {
    /// A Windows (MSF) PDB: nuget.org refuses them in symbol packages.
    Windows,
    /// Not a portable PDB, or a damaged one: what is wrong.
    Invalid(String),
}

impl std::fmt::Display for PdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Windows => write!(f, "a Windows PDB, not a portable one"),
            Self::Invalid(why) => write!(f, "not a portable PDB: {why}"),
        }
    }
}

fn invalid(why: impl Into<String>) -> PdbError {
    PdbError::Invalid(why.into())
}

/// The id of a portable PDB (the first 20 bytes of its `#Pdb` stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdbId {
    /// As stored: the GUID's integers little-endian (.NET's `Guid.ToByteArray`).
    pub guid: [u8; 16],
    pub stamp: u32,
}

impl PdbId {
    /// The GUID as SSQP writes it: 32 lower-case hex digits, its 4-, 2- and 2-byte
    /// integers big-endian (leading zeros kept), then its last 8 bytes in order.
    pub fn guid_hex(&self) -> String {
        let g = &self.guid;
        let ordered = [
            g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
            g[14], g[15],
        ];
        ordered.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The SSQP key of this PDB stored as `file_name` (the last segment of its path).
    pub fn ssqp_key(&self, file_name: &str) -> String {
        let name = file_name.to_lowercase();
        format!("{name}/{}ffffffff/{name}", self.guid_hex())
    }
}

/// The start of a Windows PDB: MSF 7.00 (and the older 2.00 program database).
fn is_windows_pdb(head: &[u8]) -> bool {
    head.starts_with(b"Microsoft C/C++ MSF 7.00")
        || head.starts_with(b"Microsoft C/C++ program database 2.00")
}

/// Little-endian reads from a slice, each checked against its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PdbError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| invalid(format!("truncated in the {what}")))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u16(&mut self, what: &str) -> Result<u16, PdbError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, PdbError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Where the `#Pdb` stream lies (offset from the file's start, size), read from the
/// metadata root at the start of `head`.
pub fn pdb_stream(head: &[u8]) -> Result<(u64, u64), PdbError> {
    if is_windows_pdb(head) {
        return Err(PdbError::Windows);
    }
    let mut c = Cursor { bytes: head, at: 0 };
    if c.u32("signature")? != METADATA_SIGNATURE {
        return Err(invalid("no metadata signature (BSJB)"));
    }
    c.take(8, "metadata root")?; // major, minor, reserved
    let length = c.u32("version length")? as usize;
    // ECMA-335 II.24.2.1: the version string is at most 255 bytes, padded to 4.
    if length > 256 || !length.is_multiple_of(4) {
        return Err(invalid(format!("version string of {length} bytes")));
    }
    c.take(length, "version string")?;
    c.take(2, "flags")?;
    let streams = c.u16("stream count")?;
    for _ in 0..streams {
        let offset = c.u32("stream header")?;
        let size = c.u32("stream header")?;
        let rest = &head[c.at..];
        let len = rest
            .iter()
            .take(32)
            .position(|&b| b == 0)
            .ok_or_else(|| invalid("a stream name is unterminated"))?;
        let name = &rest[..len];
        // The name, its terminator, padded to 4 bytes.
        c.take((len + 1).div_ceil(4) * 4, "stream name")?;
        if name == b"#Pdb" {
            if size < 20 {
                return Err(invalid(format!("a #Pdb stream of {size} bytes")));
            }
            return Ok((u64::from(offset), u64::from(size)));
        }
    }
    Err(invalid(
        "no #Pdb stream (an assembly's metadata, not a PDB's?)",
    ))
}

/// Reads a PDB's id from `reader` (a whole `.pdb`, read once from its start): at most
/// [`MAX_HEAD`] bytes are held, the bytes between the header and the `#Pdb` stream (if
/// any) are skipped, never kept.
pub fn read_id<R: Read>(mut reader: R) -> Result<PdbId, PdbError> {
    let mut head = Vec::with_capacity(4096);
    (&mut reader)
        .take(MAX_HEAD as u64)
        .read_to_end(&mut head)
        .map_err(|e| invalid(format!("unreadable ({e})")))?;
    let (offset, _) = pdb_stream(&head)?;
    let mut id = [0u8; 20];
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    match start.checked_add(20) {
        Some(end) if end <= head.len() => id.copy_from_slice(&head[start..end]),
        _ => {
            let skip = offset.saturating_sub(head.len() as u64);
            let skipped = io::copy(&mut (&mut reader).take(skip), &mut io::sink())
                .map_err(|e| invalid(format!("unreadable ({e})")))?;
            let have = head.len().saturating_sub(start.min(head.len()));
            if skipped < skip {
                return Err(invalid("the #Pdb stream lies past the end of the file"));
            }
            id[..have].copy_from_slice(&head[head.len() - have..]);
            reader
                .read_exact(&mut id[have..])
                .map_err(|_| invalid("the #Pdb stream lies past the end of the file"))?;
        }
    }
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&id[..16]);
    Ok(PdbId {
        guid,
        stamp: u32::from_le_bytes([id[16], id[17], id[18], id[19]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/nuget/ClrLoader.pdb"),
        )
        .expect("the fixture")
    }

    /// A metadata root with the given streams (name, offset, size), the version string
    /// `PDB v1.0`, and `body` after the headers.
    fn root(streams: &[(&str, u32, u32)], body: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&METADATA_SIGNATURE.to_le_bytes());
        b.extend_from_slice(&[1, 0, 1, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&12u32.to_le_bytes());
        b.extend_from_slice(b"PDB v1.0\0\0\0\0");
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&(streams.len() as u16).to_le_bytes());
        for (name, offset, size) in streams {
            b.extend_from_slice(&offset.to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
            let mut n = name.as_bytes().to_vec();
            n.push(0);
            while !n.len().is_multiple_of(4) {
                n.push(0);
            }
            b.extend_from_slice(&n);
        }
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn a_real_portable_pdb_has_the_key_its_dll_names() {
        let id = read_id(&fixture()[..]).expect("a portable PDB");
        // The GUID of the CodeView entry of ClrLoader.dll, shipped beside it.
        assert_eq!(id.guid_hex(), "95f8f6b2afbc45e4884cb4a5bf5addd2");
        assert_eq!(
            id.ssqp_key("ClrLoader.pdb"),
            "clrloader.pdb/95f8f6b2afbc45e4884cb4a5bf5addd2ffffffff/clrloader.pdb"
        );
    }

    #[test]
    fn the_guid_is_written_as_ssqp_orders_it() {
        // SSQP_Key_Conventions.md's example GUID, stored as .NET stores it.
        let id = PdbId {
            guid: [
                0xF6, 0x72, 0x7B, 0x49, 0x0A, 0x39, 0xFC, 0x44, 0x87, 0x8E, 0x5A, 0x2D, 0x63, 0xB6,
                0xCC, 0x4B,
            ],
            stamp: 0,
        };
        assert_eq!(
            id.ssqp_key("Foo.pdb"),
            "foo.pdb/497b72f6390a44fc878e5a2d63b6cc4bffffffff/foo.pdb"
        );
    }

    #[test]
    fn every_truncation_of_a_real_pdb_is_refused_without_panicking() {
        let pdb = fixture();
        let (offset, _) = pdb_stream(&pdb).expect("stream");
        for len in 0..(offset as usize + 20) {
            assert!(
                matches!(read_id(&pdb[..len]), Err(PdbError::Invalid(_))),
                "{len} bytes"
            );
        }
        assert!(read_id(&pdb[..offset as usize + 20]).is_ok());
    }

    #[test]
    fn wrong_signatures_are_refused() {
        let mut pdb = fixture();
        pdb[0] = b'X';
        assert!(matches!(read_id(&pdb[..]), Err(PdbError::Invalid(_))));
        let mut msf = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0".to_vec();
        msf.resize(4096, 0);
        assert_eq!(read_id(&msf[..]), Err(PdbError::Windows));
        assert!(matches!(
            read_id(&b"not really a pdb"[..]),
            Err(PdbError::Invalid(_))
        ));
    }

    #[test]
    fn bogus_stream_headers_are_refused() {
        // An offset far past the end, and one that wraps around.
        for offset in [1 << 20, u32::MAX - 3, u32::MAX] {
            let bytes = root(&[("#Pdb", offset, 32)], &[0; 64]);
            assert!(read_id(&bytes[..]).is_err(), "offset {offset}");
        }
        // A #Pdb stream too small for the id, no #Pdb at all, a count past the headers,
        // an unterminated name, an absurd version length.
        assert!(read_id(&root(&[("#Pdb", 40, 8)], &[0; 64])[..]).is_err());
        assert!(read_id(&root(&[("#~", 40, 8)], &[0; 64])[..]).is_err());
        let mut many = root(&[("#~", 40, 8)], &[]);
        many[30] = 0xFF;
        assert!(read_id(&many[..]).is_err());
        let mut long = root(&[], &[]);
        long.extend_from_slice(&[0; 8]);
        long.extend_from_slice(&[b'#'; 40]);
        long[30] = 1;
        assert!(read_id(&long[..]).is_err());
        let mut version = root(&[("#Pdb", 0, 20)], &[]);
        version[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_id(&version[..]).is_err());
    }

    #[test]
    fn a_pdb_stream_past_the_head_is_read_by_skipping() {
        let far = MAX_HEAD as u32 + 1000;
        let mut bytes = root(&[("#Pdb", far, 20)], &[]);
        bytes.resize(far as usize, 0);
        let id: Vec<u8> = (1..=20).collect();
        bytes.extend_from_slice(&id);
        let got = read_id(&bytes[..]).expect("an id");
        assert_eq!(got.guid[..], id[..16]);
        assert_eq!(got.stamp, u32::from_le_bytes([17, 18, 19, 20]));
        // The same stream straddling the head's end.
        let mut bytes = root(&[("#Pdb", MAX_HEAD as u32 - 10, 20)], &[]);
        bytes.resize(MAX_HEAD - 10, 0);
        bytes.extend_from_slice(&id);
        assert_eq!(read_id(&bytes[..]).expect("an id").guid[..], id[..16]);
        // One byte short.
        bytes.pop();
        assert!(read_id(&bytes[..]).is_err());
    }
}
