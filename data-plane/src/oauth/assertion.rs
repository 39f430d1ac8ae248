//! Client assertions for `private_key_jwt` (RFC 7523 section 2.2, OpenID Connect Core section
//! 9): in place of a client secret, a short-lived JWT naming the client, for the token
//! endpoint, signed with the client's private key.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// The `client_assertion_type` of a JWT assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long an assertion is valid, in seconds.
const LIFETIME_SECS: u64 = 60;

/// A private key that signs client assertions.
pub struct AssertionKey {
    key: EncodingKey,
    algorithm: Algorithm,
}

/// The key is not a PEM private key the gateway can sign with.
#[derive(Debug, thiserror::Error)]
#[error(
    "not a PEM private key the gateway can sign with: use an EC P-256 (ES256) or RSA (RS256) key in PKCS#8 (\"BEGIN PRIVATE KEY\") or PKCS#1 (\"BEGIN RSA PRIVATE KEY\") form"
)]
pub struct InvalidKey;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl AssertionKey {
    /// Reads a PEM private key: EC P-256 signs with ES256, RSA with RS256.
    pub fn parse(pem: &str) -> Result<Self, InvalidKey> {
        if let Ok(key) = EncodingKey::from_ec_pem(pem.as_bytes()) {
            let key = Self {
                key,
                algorithm: Algorithm::ES256,
            };
            // A key of another curve reads as EC too, and fails only when it signs.
            return key.sign("probe", "probe", None).map(|_| key);
        }
        EncodingKey::from_rsa_pem(pem.as_bytes())
            .map(|key| Self {
                key,
                algorithm: Algorithm::RS256,
            })
            .map_err(|_| InvalidKey)
    }

    /// An assertion that `client_id` calls `audience` (the token endpoint), with `key_id` as
    /// the header's `kid`.
    pub fn sign(
        &self,
        client_id: &str,
        audience: &str,
        key_id: Option<&str>,
    ) -> Result<String, InvalidKey> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut header = Header::new(self.algorithm);
        header.kid = key_id.map(str::to_owned);
        let claims = Claims {
            iss: client_id,
            sub: client_id,
            aud: audience,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|_| InvalidKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_a_usable_key_is_refused() {
        for pem in [
            "",
            "not a key",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(AssertionKey::parse(pem).is_err(), "{pem}");
        }
    }
}
