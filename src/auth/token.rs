//! Access tokens: recognisable prefix, random body, stored only as a SHA-256 hash.
use std::fmt;

use rand::Rng;

/// Every token starts with this, so leaked ones can be found by secret scanners.
pub const TOKEN_PREFIX: &str = "pky_";

const BODY_LEN: usize = 40;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A freshly generated token: the secret (shown once) and what is stored.
pub struct NewToken {
    pub secret: String,
    pub hash: String,
    pub display_prefix: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("display_prefix", &self.display_prefix)
            .field("secret", &"[redacted]")
            .finish()
    }
}

pub fn generate_token() -> NewToken {
    let mut rng = rand::rng();
    let body: String = (0..BODY_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let secret = format!("{TOKEN_PREFIX}{body}");
    let display_prefix = secret[..TOKEN_PREFIX.len() + 6].to_string();
    NewToken {
        hash: hash_token(&secret),
        secret,
        display_prefix,
    }
}

/// Tokens have 238 bits of entropy, so a fast hash is enough and lets a request be
/// authenticated by one indexed lookup (no password hashing per request).
pub fn hash_token(secret: &str) -> String {
    crate::storage::hex_sha256(secret.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_unique_and_redacted() {
        let a = generate_token();
        let b = generate_token();
        assert!(a.secret.starts_with(TOKEN_PREFIX));
        assert_eq!(a.secret.len(), TOKEN_PREFIX.len() + BODY_LEN);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash_token(&a.secret));
        assert!(!format!("{a:?}").contains(&a.secret));
    }
}
