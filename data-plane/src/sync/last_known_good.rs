//! The last-known-good configuration on disk, so a data plane can boot while the control plane
//! is down. The file holds a protobuf snapshot sealed with a key derived from the data plane's
//! token (the pod needs no other key, and a file copied off one fleet opens with no other
//! token); it is written atomically with mode 0600.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use mcpgw_shared::proto;
use mcpgw_shared::secret::{Keyring, NONCE_LEN, derive_key};
use prost::Message;

use crate::snapshot::Config;

/// File format marker and version.
const MAGIC: &[u8; 8] = b"MCPGWLK1";
/// Associated data binding the ciphertext to its purpose.
const AAD: &[u8] = b"mcpgw last-known-good v1";

/// The file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum LastKnownGoodError {
    /// Reading or writing failed.
    #[error("last-known-good file {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not one this data plane wrote (other token, other format, or damaged).
    #[error("last-known-good file {0} cannot be opened with this data-plane token")]
    Unreadable(PathBuf),
}

/// The last-known-good file of one data-plane token.
#[derive(Clone)]
pub struct LastKnownGood {
    path: PathBuf,
    keyring: Keyring,
}

impl std::fmt::Debug for LastKnownGood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastKnownGood")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LastKnownGood {
    /// The file `last-known-good.bin` in `data_dir`, sealed with a key derived from `token`.
    pub fn new(data_dir: &Path, token: &str) -> Self {
        Self {
            path: data_dir.join("last-known-good.bin"),
            keyring: Keyring::single(&derive_key(token.as_bytes(), "last-known-good")),
        }
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `config` (atomically: a temporary file renamed over the old one).
    pub fn save(&self, config: &Config) -> Result<(), LastKnownGoodError> {
        let io = |error| LastKnownGoodError::Io {
            path: self.path.clone(),
            error,
        };
        let plaintext = config.to_snapshot().encode_to_vec();
        let (kid, nonce, ciphertext) = self.keyring.seal(&plaintext, AAD);
        let mut bytes =
            Vec::with_capacity(MAGIC.len() + 1 + kid.len() + NONCE_LEN + ciphertext.len());
        bytes.extend_from_slice(MAGIC);
        bytes.push(kid.len() as u8);
        bytes.extend_from_slice(kid.as_bytes());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ciphertext);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let temporary = self.path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temporary, &self.path).map_err(io)
    }

    /// Reads the file; `Ok(None)` when there is none.
    pub fn load(&self) -> Result<Option<proto::Snapshot>, LastKnownGoodError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(LastKnownGoodError::Io {
                    path: self.path.clone(),
                    error,
                });
            }
        };
        self.decode(&bytes).map(Some)
    }

    /// Opens the content of a last-known-good file: an error, never a panic, for anything this
    /// data plane did not write with its token.
    pub fn decode(&self, bytes: &[u8]) -> Result<proto::Snapshot, LastKnownGoodError> {
        let unreadable = || LastKnownGoodError::Unreadable(self.path.clone());
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(unreadable)?;
        let (&kid_len, rest) = rest.split_first().ok_or_else(unreadable)?;
        let kid_len = usize::from(kid_len);
        if rest.len() < kid_len + NONCE_LEN {
            return Err(unreadable());
        }
        let (kid, rest) = rest.split_at(kid_len);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let kid = std::str::from_utf8(kid).map_err(|_| unreadable())?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| unreadable())?;
        let plaintext = self
            .keyring
            .open(kid, &nonce, ciphertext, AAD)
            .map_err(|_| unreadable())?;
        proto::Snapshot::decode(plaintext.as_slice()).map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests;
