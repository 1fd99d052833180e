//! Storage keys as a type, so no module formats paths by hand.
use std::fmt;

use object_store::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageKey {
    /// A verified blob, by the hex SHA-256 of its content.
    Blob(String),
    /// An upload in progress.
    Upload(uuid::Uuid),
    /// A chunk being received, before it is claimed as the upload's next part.
    UploadPending(uuid::Uuid, uuid::Uuid),
}

impl StorageKey {
    pub fn path(&self) -> Path {
        Path::from(self.to_string())
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blob(hex) if hex.len() >= 4 => {
                write!(f, "blobs/sha256/{}/{}/{hex}", &hex[..2], &hex[2..4])
            }
            Self::Blob(hex) => write!(f, "blobs/sha256/short/{hex}"),
            Self::Upload(id) => write!(f, "uploads/{id}/data"),
            Self::UploadPending(id, nonce) => write!(f, "uploads/{id}/pending-{nonce}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_fan_out() {
        let key = StorageKey::Blob("abcdef".into());
        assert_eq!(key.to_string(), "blobs/sha256/ab/cd/abcdef");
    }
}
