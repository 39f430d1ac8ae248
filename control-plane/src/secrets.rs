//! Loading the key that encrypts secrets at rest.

use std::io::Write;
use std::path::{Path, PathBuf};

use mcpgw_shared::secret::{Keyring, generate_base64_key};
use mcpgw_shared::{Credential, CredentialKind, SecretCipher};

use crate::config::ControlPlaneArgs;

/// Name of the generated key file in the data dir.
const GENERATED_KEY_FILE: &str = "secret.key";

/// The secret key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    /// No key was configured where one is required.
    #[error(
        "MCPGW_SECRET_KEY is not set: set it to 32 random bytes in base64 (`openssl rand -base64 32`) or point MCPGW_SECRET_KEY_FILE at a file holding one"
    )]
    Missing,
    /// The key is malformed.
    #[error("{source_name}: {error}")]
    Invalid {
        /// Where it came from.
        source_name: String,
        /// What is wrong.
        error: mcpgw_shared::SecretError,
    },
    /// The key file could not be read or written.
    #[error("key file {path}: {error}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// Loads the cipher from `MCPGW_SECRET_KEY` or `MCPGW_SECRET_KEY_FILE`; with
/// `generate_in` (standalone), from `<dir>/secret.key`, created with mode 0600 on first run.
pub fn load_cipher(
    args: &ControlPlaneArgs,
    generate_in: Option<&Path>,
) -> Result<SecretCipher, SecretKeyError> {
    let (text, source_name) = if let Some(key) = &args.secret_key {
        (key.expose().clone(), "MCPGW_SECRET_KEY".to_owned())
    } else if let Some(path) = &args.secret_key_file {
        (read_key_file(path)?, path.display().to_string())
    } else if let Some(dir) = generate_in {
        let path = dir.join(GENERATED_KEY_FILE);
        (
            read_or_create(&path, generate_base64_key)?,
            path.display().to_string(),
        )
    } else {
        return Err(SecretKeyError::Missing);
    };
    Keyring::from_base64_key(&text)
        .map(SecretCipher::new)
        .map_err(|error| SecretKeyError::Invalid { source_name, error })
}

fn read_key_file(path: &Path) -> Result<String, SecretKeyError> {
    std::fs::read_to_string(path).map_err(|error| SecretKeyError::File {
        path: path.to_owned(),
        error,
    })
}

/// Reads a generated local secret (a key, a token), creating the file with mode 0600 from
/// `generate` on first use.
pub fn read_or_create(
    path: &Path,
    generate: impl FnOnce() -> String,
) -> Result<String, SecretKeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file_error = |error| SecretKeyError::File {
        path: path.to_owned(),
        error,
    };
    if path.exists() {
        return read_key_file(path).map(|text| text.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(file_error)?;
    }
    let value = generate();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(file_error)?;
    file.write_all(value.as_bytes()).map_err(file_error)?;
    tracing::info!(path = %path.display(), "generated a local secret");
    Ok(value)
}

/// Writes a generated local secret to `path` with mode 0600, replacing what was there.
pub fn replace_secret_file(path: &Path, value: &str) -> Result<(), SecretKeyError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(SecretKeyError::File {
                path: path.to_owned(),
                error,
            });
        }
    }
    read_or_create(path, || value.to_owned()).map(|_| ())
}

/// Writes the secrets of a first run into `dir`, each unless it exists, mode 0600:
/// `secret-key` (`MCPGW_SECRET_KEY_FILE`), `admin-key` (`MCPGW_BOOTSTRAP_ADMIN_KEY_FILE`),
/// `data-plane-token` (`MCPGW_BOOTSTRAP_DATA_PLANE_TOKEN_FILE` and `MCPGW_DATA_PLANE_TOKEN_FILE`)
/// `session-keys` (`MCPGW_SESSION_KEYS_FILE`) and `token-keys` (`MCPGW_TOKEN_KEY_FILE`).
/// Returns the admin key when it was created now (to be shown once).
pub fn first_run_secrets(dir: &Path) -> Result<Option<String>, SecretKeyError> {
    std::fs::create_dir_all(dir).map_err(|error| SecretKeyError::File {
        path: dir.to_owned(),
        error,
    })?;
    read_or_create(&dir.join("secret-key"), generate_base64_key)?;
    read_or_create(&dir.join("session-keys"), || {
        format!("k1:{}", generate_base64_key())
    })?;
    read_or_create(&dir.join("token-keys"), || {
        format!("k1:{}", generate_base64_key())
    })?;
    read_or_create(&dir.join("data-plane-token"), || {
        Credential::generate(CredentialKind::DataPlaneToken).expose()
    })?;
    let admin_key = dir.join("admin-key");
    let created = !admin_key.exists();
    let key = read_or_create(&admin_key, || {
        Credential::generate(CredentialKind::ApiKey).expose()
    })?;
    Ok(created.then_some(key))
}
