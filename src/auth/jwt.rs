//! Short-lived bearer tokens for the OCI distribution API (the Docker token flow): HS256
//! JWTs whose `access` lists what `policy` allowed when they were issued.
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// How long an issued bearer token lives.
pub const TOKEN_LIFETIME_SECS: i64 = 300;
const ISSUER: &str = "packyard";

/// One granted resource, as the Docker token spec spells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// `user:<id>`, `repository:<id>` or `anonymous`.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub access: Vec<Access>,
    /// The access token the bearer token was issued for: it is checked on every request, so
    /// revoking (or expiring) the access token ends the bearer tokens issued from it too,
    /// and its scopes and package limits keep applying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<i64>,
}

impl Claims {
    /// Whether the token grants `action` on the repository `name`.
    pub fn allows(&self, name: &str, action: &str) -> bool {
        self.access.iter().any(|a| {
            a.kind == "repository"
                && a.name == name
                && a.actions.iter().any(|x| x == action || x == "*")
        })
    }
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(
        &self,
        sub: String,
        tid: Option<i64>,
        audience: &str,
        access: Vec<Access>,
    ) -> Result<(String, Claims), String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            sub,
            aud: audience.to_string(),
            iat: now,
            exp: now + TOKEN_LIFETIME_SECS,
            access,
            tid,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| e.to_string())?;
        Ok((token, claims))
    }

    /// Verifies signature, issuer, audience and expiry.
    pub fn verify(&self, token: &str, audience: &str) -> Result<Claims, String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}

/// Whether a bearer secret looks like a JWT rather than a Packyard token.
pub fn looks_like_jwt(secret: &str) -> bool {
    secret.split('.').count() == 3 && !secret.starts_with(crate::auth::TOKEN_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let access = vec![Access {
            kind: "repository".into(),
            name: "acme/app".into(),
            actions: vec!["pull".into()],
        }];
        let (token, _) = keys
            .issue("user:1".into(), Some(7), "registry", access)
            .expect("issue");
        assert!(looks_like_jwt(&token));
        let claims = keys.verify(&token, "registry").expect("valid");
        assert_eq!(claims.tid, Some(7));
        assert!(claims.allows("acme/app", "pull"));
        assert!(!claims.allows("acme/app", "push"));
        assert!(!claims.allows("acme/other", "pull"));
        assert!(keys.verify(&token, "elsewhere").is_err(), "audience");
        let other = JwtKeys::new(b"another secret, another server!!");
        assert!(other.verify(&token, "registry").is_err(), "signature");
        let mut tampered = token.clone();
        tampered.push('x');
        assert!(keys.verify(&tampered, "registry").is_err());
    }
}
