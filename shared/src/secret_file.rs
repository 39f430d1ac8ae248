//! Secrets and certificates given as files. A secret may come as a variable or as a file
//! (`MCPGW_X` or `MCPGW_X_FILE`), the way container platforms hand them over: a mounted Secret
//! is a file, and a file keeps the value out of the process environment; surrounding
//! whitespace (the newline an editor adds) is dropped. Certificates and keys (PEM) are read
//! from the files their variables name.

use std::path::{Path, PathBuf};

use crate::secret::Redacted;

/// A secret's file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// Both forms were given.
    #[error("set {variable} or {variable}_FILE, not both")]
    Both {
        /// The variable.
        variable: &'static str,
    },
    /// The file cannot be read.
    #[error("cannot read {variable}_FILE ({path}): {source}")]
    Read {
        /// The variable.
        variable: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{variable}_FILE ({path}) is empty")]
    Empty {
        /// The variable.
        variable: &'static str,
        /// The file.
        path: PathBuf,
    },
}

/// A file that a variable names cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {variable} ({path}): {source}")]
pub struct NamedFileError {
    /// The variable that names it.
    pub variable: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Reads the file `variable` names (a PEM certificate, a key).
pub fn read_named(variable: &'static str, path: &Path) -> Result<Vec<u8>, NamedFileError> {
    std::fs::read(path).map_err(|source| NamedFileError {
        variable,
        path: path.to_owned(),
        source,
    })
}

/// The secret of `variable`: its value, or the contents of its `_FILE`; `None` when neither
/// is set.
pub fn value_or_file(
    variable: &'static str,
    value: Option<&Redacted<String>>,
    file: Option<&Path>,
) -> Result<Option<Redacted<String>>, SecretFileError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(SecretFileError::Both { variable }),
        (Some(value), None) => Ok(Some(value.clone())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|source| SecretFileError::Read {
                variable,
                path: path.to_owned(),
                source,
            })?;
            let text = text.trim();
            if text.is_empty() {
                return Err(SecretFileError::Empty {
                    variable,
                    path: path.to_owned(),
                });
            }
            Ok(Some(Redacted::new(text.to_owned())))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests;
