//! Access-token keys and tokens: ES256 (P-256) keys generated with `rcgen`, their private
//! part sealed with the control plane's secret key, tokens signed and verified with
//! `jsonwebtoken`. The same keys sign the user assertions of identity forwarding (`typ: JWT`,
//! so neither passes for the other). The private key is opened only to sign and never leaves
//! this module.

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mcpgw_shared::{SealedSecret, SecretCipher, SecretError, SigningKeyId};
use serde::{Deserialize, Serialize};

use crate::store::SigningKeyRow;

/// The `typ` of access tokens (RFC 9068).
const TOKEN_TYPE: &str = "at+jwt";
/// The `typ` of user assertions.
const ASSERTION_TYPE: &str = "JWT";

/// A key could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// Generating a key pair failed.
    #[error("cannot generate a signing key: {0}")]
    Generate(#[from] rcgen::Error),
    /// The key material was refused.
    #[error("signing key {kid}: {source}")]
    Key {
        /// The key.
        kid: String,
        /// Why.
        source: jsonwebtoken::errors::Error,
    },
    /// The sealed private key does not open.
    #[error(
        "signing key {kid} cannot be decrypted ({source}): is MCPGW_SECRET_KEY the key it was created with?"
    )]
    Unreadable {
        /// The key.
        kid: String,
        /// Why.
        source: SecretError,
    },
}

/// A generated key, ready to record.
pub struct GeneratedKey {
    /// Its key id.
    pub kid: String,
    /// Its public JWK (`kid`, `use: sig`, `alg: ES256`).
    pub public_jwk: serde_json::Value,
    /// Its PKCS#8 PEM, sealed.
    pub sealed_private: SealedSecret,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The issuer (the data plane's public base URL).
    pub iss: String,
    /// The user.
    pub sub: String,
    /// The server's canonical URL.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires.
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// The client.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The workspace.
    pub mcpgw_workspace: String,
    /// The grant.
    pub mcpgw_grant: String,
}

/// The claims of a user assertion: who calls a server, told to its upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAssertionClaims {
    /// The issuer (the data plane's public base URL).
    pub iss: String,
    /// The user.
    pub sub: String,
    /// The server's upstream URL.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires.
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// The caller's workspace.
    pub mcpgw_workspace: String,
    /// The server called.
    pub mcpgw_server: String,
}

/// Where the private key of `id` is sealed (the associated data of its ciphertext).
fn context(id: &SigningKeyId) -> String {
    format!("signing_key:{id}/private")
}

/// Generates a key for the aggregate `id`; its key id is the aggregate's id.
pub fn generate(cipher: &SecretCipher, id: &SigningKeyId) -> Result<GeneratedKey, SigningError> {
    let kid = id.to_string();
    let pem = rcgen::KeyPair::generate()?.serialize_pem();
    let key = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|source| SigningError::Key {
        kid: kid.clone(),
        source,
    })?;
    let mut jwk =
        Jwk::from_encoding_key(&key, Algorithm::ES256).map_err(|source| SigningError::Key {
            kid: kid.clone(),
            source,
        })?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(GeneratedKey {
        public_jwk: serde_json::to_value(&jwk).expect("a JWK serializes"),
        sealed_private: cipher.seal(&pem, &context(id)),
        kid,
    })
}

/// Signs the access token `claims` with `key`.
pub fn sign(
    cipher: &SecretCipher,
    key: &SigningKeyRow,
    claims: &AccessClaims,
) -> Result<String, SigningError> {
    sign_as(cipher, key, TOKEN_TYPE, claims)
}

/// Signs the user assertion `claims` with `key`.
pub fn sign_user_assertion(
    cipher: &SecretCipher,
    key: &SigningKeyRow,
    claims: &UserAssertionClaims,
) -> Result<String, SigningError> {
    sign_as(cipher, key, ASSERTION_TYPE, claims)
}

fn sign_as(
    cipher: &SecretCipher,
    key: &SigningKeyRow,
    typ: &str,
    claims: &impl Serialize,
) -> Result<String, SigningError> {
    let pem = cipher
        .open(&key.sealed_private, &context(&key.id))
        .map_err(|source| SigningError::Unreadable {
            kid: key.kid.clone(),
            source,
        })?;
    let key_error = |source| SigningError::Key {
        kid: key.kid.clone(),
        source,
    };
    let encoding = EncodingKey::from_ec_pem(pem.expose().as_bytes()).map_err(key_error)?;
    let header = Header {
        typ: Some(typ.to_owned()),
        kid: Some(key.kid.clone()),
        ..Header::new(Algorithm::ES256)
    };
    jsonwebtoken::encode(&header, claims, &encoding).map_err(key_error)
}

/// The claims of `token` if one of `keys` signed it; its expiry is checked only with
/// `check_expiry` (revocation takes expired tokens too).
pub fn verify(keys: &[SigningKeyRow], token: &str, check_expiry: bool) -> Option<AccessClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::ES256 || header.typ.as_deref() != Some(TOKEN_TYPE) {
        return None;
    }
    let kid = header.kid?;
    let key = keys.iter().find(|k| k.kid == kid)?;
    let jwk: Jwk = serde_json::from_value(key.public_jwk.clone()).ok()?;
    let decoding = DecodingKey::from_jwk(&jwk).ok()?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = check_expiry;
    validation.validate_nbf = check_expiry;
    validation.validate_aud = false;
    validation.leeway = 0;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<AccessClaims>(token, &decoding, &validation)
        .ok()
        .map(|data| data.claims)
}

/// The JWK Set of `keys` (public parts only).
pub fn jwks(keys: &[SigningKeyRow]) -> serde_json::Value {
    let keys = keys
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.public_jwk.clone()).ok())
        .collect();
    serde_json::to_value(JwkSet { keys }).expect("a JWK set serializes")
}

#[cfg(test)]
mod tests;
