//! The SQLite file holds sealed secrets, key hashes and the request log: only its owner may
//! read it. SQLite creates its `-wal` and `-shm` files with the database file's mode, so the
//! file is made (or tightened) to 0600 before the first connection opens it.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use super::StoreError;

/// The file a `sqlite:` URL names, unless it names an in-memory database.
pub(super) fn path_of(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.strip_prefix("//").unwrap_or(path);
    let path = path.strip_prefix("file:").unwrap_or(path);
    let in_memory =
        path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory");
    (!in_memory).then(|| PathBuf::from(path))
}

/// Creates the database file with mode 0600 when it does not exist, and tightens an existing
/// one (and its `-wal` and `-shm` files) to 0600.
pub(super) fn make_private(url: &str) -> Result<(), StoreError> {
    let Some(path) = path_of(url) else {
        return Ok(());
    };
    let fail = |what: &str, error: std::io::Error| {
        StoreError::Database(sqlx::Error::Configuration(
            format!("cannot {what} the SQLite file {}: {error}", path.display()).into(),
        ))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", e))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            for suffix in ["", "-wal", "-shm"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if file.exists() {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| fail("restrict", e))?;
                }
            }
            Ok(())
        }
        Err(error) => Err(fail("create", error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_file_or_none() {
        assert_eq!(
            path_of("sqlite://.mcpgw/mcpgw.db"),
            Some(".mcpgw/mcpgw.db".into())
        );
        assert_eq!(
            path_of("sqlite:/var/lib/mcpgw.db?mode=rwc"),
            Some("/var/lib/mcpgw.db".into())
        );
        assert_eq!(path_of("sqlite::memory:"), None);
        assert_eq!(path_of("sqlite:file:x?mode=memory&cache=shared"), None);
        assert_eq!(path_of("postgres://h/db"), None);
    }

    #[test]
    fn the_file_is_made_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/mcpgw.db");
        let url = format!("sqlite://{}", path.display());
        make_private(&url).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        make_private(&url).unwrap();
        assert_eq!(mode(&path), 0o600, "an existing file is tightened");
    }
}
