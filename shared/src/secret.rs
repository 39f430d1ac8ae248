//! Authenticated encryption of secrets (XChaCha20-Poly1305, random 192-bit nonces) with a
//! keyring, so keys can rotate: the first key seals, every key opens, and each ciphertext names
//! the id of the key that sealed it.
//!
//! Used for secrets at rest in the control plane (`MCPGW_SECRET_KEY`), for sealed session ids
//! (`MCPGW_SESSION_KEYS`) and for the data plane's last-known-good file.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{AeadCore, KeyInit, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a nonce in bytes.
pub const NONCE_LEN: usize = 24;

/// Why a key could not be loaded or a secret could not be opened.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// A key is not 32 bytes of standard base64.
    #[error("a key must be 32 random bytes in base64 (for example from `openssl rand -base64 32`)")]
    BadKey,
    /// A keyring entry is not `kid:base64key`.
    #[error(
        "keyring entry {index} is not `kid:base64key` with a non-empty kid of letters, digits, '-' or '_'"
    )]
    BadKeyringEntry {
        /// Position of the entry, from 1.
        index: usize,
    },
    /// Two keyring entries share an id.
    #[error("keyring id `{0}` appears twice")]
    DuplicateKeyId(String),
    /// The keyring has no key at all.
    #[error("the keyring is empty")]
    EmptyKeyring,
    /// The ciphertext names a key that is not in the keyring.
    #[error("no key with id `{0}` in the keyring")]
    UnknownKey(String),
    /// The ciphertext was tampered with, or sealed with other associated data.
    #[error("the ciphertext does not authenticate")]
    Unauthentic,
}

/// One named key.
#[derive(Clone)]
struct NamedKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// Keys for sealing and opening: the first seals, all open.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<NamedKey>,
}

impl Keyring {
    /// A keyring of one key, whose id is derived from the key itself.
    pub fn single(key: &[u8; KEY_LEN]) -> Self {
        Self {
            keys: vec![NamedKey {
                id: derived_key_id(key),
                cipher: XChaCha20Poly1305::new(key.into()),
            }],
        }
    }

    /// A keyring of one key given as base64 (the `MCPGW_SECRET_KEY` format).
    pub fn from_base64_key(text: &str) -> Result<Self, SecretError> {
        Ok(Self::single(&decode_key(text)?))
    }

    /// A keyring from `kid:base64key[,kid:base64key...]` (the `MCPGW_SESSION_KEYS` format).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let mut keys: Vec<NamedKey> = Vec::new();
        for (index, entry) in text.split(',').map(str::trim).enumerate() {
            let bad = SecretError::BadKeyringEntry { index: index + 1 };
            let (id, key) = entry.split_once(':').ok_or(bad.clone())?;
            let id_ok = !id.is_empty()
                && id.len() <= 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                return Err(bad);
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(SecretError::DuplicateKeyId(id.to_owned()));
            }
            let key = decode_key(key)?;
            keys.push(NamedKey {
                id: id.to_owned(),
                cipher: XChaCha20Poly1305::new((&key).into()),
            });
        }
        if keys.is_empty() {
            return Err(SecretError::EmptyKeyring);
        }
        Ok(Self { keys })
    }

    /// The id of the key that seals.
    pub fn sealing_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Encrypts `plaintext`, binding `associated_data`; returns the key id, nonce and ciphertext.
    pub fn seal(
        &self,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> (&str, [u8; NONCE_LEN], Vec<u8>) {
        let key = &self.keys[0];
        let nonce = XChaCha20Poly1305::generate_nonce(&mut chacha20poly1305::aead::OsRng);
        let ciphertext = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: associated_data,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        (&key.id, nonce.into(), ciphertext)
    }

    /// Decrypts what [`Keyring::seal`] produced with the same associated data.
    pub fn open(
        &self,
        key_id: &str,
        nonce: &[u8; NONCE_LEN],
        ciphertext: &[u8],
        associated_data: &[u8],
    ) -> Result<Vec<u8>, SecretError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or_else(|| SecretError::UnknownKey(key_id.chars().take(32).collect()))?;
        key.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated_data,
                },
            )
            .map_err(|_| SecretError::Unauthentic)
    }
}

impl std::str::FromStr for Keyring {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

/// A fresh random key in base64, for generated defaults.
pub fn generate_base64_key() -> String {
    let key: [u8; KEY_LEN] = rand::random();
    STANDARD.encode(key)
}

/// Derives a 32-byte key from high-entropy material (a token) and a purpose label.
pub fn derive_key(material: &[u8], purpose: &str) -> [u8; KEY_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(b"mcpgw-derive-v1\0");
    hasher.update(purpose.as_bytes());
    hasher.update(b"\0");
    hasher.update(material);
    hasher.finalize().into()
}

fn decode_key(text: &str) -> Result<[u8; KEY_LEN], SecretError> {
    STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; KEY_LEN]>::try_from(bytes).ok())
        .ok_or(SecretError::BadKey)
}

fn derived_key_id(key: &[u8; KEY_LEN]) -> String {
    let digest = Sha256::digest([b"mcpgw-key-id\0".as_slice(), key].concat());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// A secret as stored: which key sealed it, the nonce and the ciphertext (base64url).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedSecret {
    /// Id of the key that sealed it.
    pub kid: String,
    /// Nonce, base64url.
    pub nonce: String,
    /// Ciphertext with its tag, base64url.
    pub ct: String,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret(kid={})", self.kid)
    }
}

/// Encrypts secrets at rest. The associated data names where the secret belongs (for example
/// `server:<id>/auth/headers/X-Api-Key`), so a ciphertext cannot be moved to another field.
#[derive(Clone, Debug)]
pub struct SecretCipher {
    keyring: Keyring,
}

impl SecretCipher {
    /// A cipher over `keyring`.
    pub fn new(keyring: Keyring) -> Self {
        Self { keyring }
    }

    /// Seals `plaintext` for the place `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> SealedSecret {
        let (kid, nonce, ct) = self.keyring.seal(plaintext.as_bytes(), context.as_bytes());
        SealedSecret {
            kid: kid.to_owned(),
            nonce: URL_SAFE_NO_PAD.encode(nonce),
            ct: URL_SAFE_NO_PAD.encode(ct),
        }
    }

    /// Opens a secret sealed for `context`.
    pub fn open(
        &self,
        sealed: &SealedSecret,
        context: &str,
    ) -> Result<Redacted<String>, SecretError> {
        let nonce = URL_SAFE_NO_PAD
            .decode(&sealed.nonce)
            .ok()
            .and_then(|n| <[u8; NONCE_LEN]>::try_from(n).ok())
            .ok_or(SecretError::Unauthentic)?;
        let ct = URL_SAFE_NO_PAD
            .decode(&sealed.ct)
            .map_err(|_| SecretError::Unauthentic)?;
        let plaintext = self
            .keyring
            .open(&sealed.kid, &nonce, &ct, context.as_bytes())?;
        String::from_utf8(plaintext)
            .map(Redacted::new)
            .map_err(|_| SecretError::Unauthentic)
    }
}

/// A value that never shows itself in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value, for the one place that must use it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// A secret given as text (a flag, a variable) is wrapped as it is read.
impl std::str::FromStr for Redacted<String> {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s.to_owned()))
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests;
