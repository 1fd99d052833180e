//! Hashing in one pass: SHA-256 always, MD5/SHA-1/SHA-512 only when a door needs them.
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// Which digests besides SHA-256 to compute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DigestSet {
    pub md5: bool,
    pub sha1: bool,
    pub sha512: bool,
}

impl DigestSet {
    pub const ALL: Self = Self {
        md5: true,
        sha1: true,
        sha512: true,
    };
}

/// Hex digests of one blob.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digests {
    pub sha256: String,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha512: Option<String>,
}

pub struct Hasher {
    sha256: Sha256,
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    sha512: Option<Sha512>,
}

impl Hasher {
    pub fn new(want: DigestSet) -> Self {
        Self {
            sha256: Sha256::new(),
            md5: want.md5.then(Md5::new),
            sha1: want.sha1.then(Sha1::new),
            sha512: want.sha512.then(Sha512::new),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        if let Some(h) = &mut self.md5 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(data);
        }
    }

    pub fn finish(self) -> Digests {
        Digests {
            sha256: hex::encode(self.sha256.finalize()),
            md5: self.md5.map(|h| hex::encode(h.finalize())),
            sha1: self.sha1.map(|h| hex::encode(h.finalize())),
            sha512: self.sha512.map(|h| hex::encode(h.finalize())),
        }
    }
}

pub fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}
