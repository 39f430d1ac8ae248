//! Bearer credentials in the format `<prefix>_<id>_<secret>`: API keys (`mcpgw_…`) and
//! data-plane tokens (`mcpgwdp_…`).
//!
//! The id (8–16 lowercase letters and digits) is public and used for lookup; the secret (at
//! least 32 base62 characters) is stored only as its SHA-256. Keys are high-entropy, so a plain
//! hash is enough and keeps verification cheap on the hot path; comparison is constant-time.

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::ApiKeyId;

const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_LEN: usize = 40;
const MIN_SECRET_LEN: usize = 32;
const MAX_SECRET_LEN: usize = 128;

/// What a credential is for, which fixes its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A client or admin API key: `mcpgw_<id>_<secret>`.
    ApiKey,
    /// A data-plane token: `mcpgwdp_<id>_<secret>`.
    DataPlaneToken,
}

impl CredentialKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::ApiKey => "mcpgw",
            Self::DataPlaneToken => "mcpgwdp",
        }
    }
}

/// Why a presented credential could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    /// Not `<prefix>_<id>_<secret>` with the expected prefix.
    #[error("expected a credential of the form {prefix}_<id>_<secret>")]
    Malformed {
        /// The prefix that was expected.
        prefix: &'static str,
    },
}

/// A parsed credential: its public id and its secret part.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    kind: CredentialKind,
    id: ApiKeyId,
    secret: String,
}

impl Credential {
    /// A new random credential of `kind`.
    pub fn generate(kind: CredentialKind) -> Self {
        let mut rng = rand::rng();
        let secret = (0..SECRET_LEN)
            .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
            .collect();
        Self {
            kind,
            id: ApiKeyId::generate(),
            secret,
        }
    }

    /// Reads a credential presented by a caller.
    pub fn parse(kind: CredentialKind, text: &str) -> Result<Self, CredentialError> {
        let malformed = CredentialError::Malformed {
            prefix: kind.prefix(),
        };
        let rest = text
            .strip_prefix(kind.prefix())
            .and_then(|rest| rest.strip_prefix('_'))
            .ok_or(malformed.clone())?;
        let (id, secret) = rest.split_once('_').ok_or(malformed.clone())?;
        let id: ApiKeyId = id.parse().map_err(|_| malformed.clone())?;
        let secret_ok = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric());
        if !secret_ok {
            return Err(malformed);
        }
        Ok(Self {
            kind,
            id,
            secret: secret.to_owned(),
        })
    }

    /// The public id, used to look the credential up.
    pub fn id(&self) -> &ApiKeyId {
        &self.id
    }

    /// The SHA-256 of the secret part: what is stored.
    pub fn secret_hash(&self) -> [u8; 32] {
        hash_secret(&self.secret)
    }

    /// Whether the secret hashes to `stored_hash`, compared in constant time.
    pub fn verify(&self, stored_hash: &[u8]) -> bool {
        self.secret_hash().ct_eq(stored_hash).into()
    }

    /// The full credential text, to hand to its owner exactly once.
    pub fn expose(&self) -> String {
        format!("{}_{}_{}", self.kind.prefix(), self.id, self.secret)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests;
