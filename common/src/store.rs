//! The node's one fjall database under `DATA_DIR`.

use std::path::Path;

/// The database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot open the database in DATA_DIR={path}: {source} (check the directory is writable and that no other preconfer uses it)"
)]
pub struct StoreError {
    /// The directory.
    pub path: String,
    /// The cause.
    #[source]
    pub source: fjall::Error,
}

/// Opens (creating if needed) the database. fjall holds a lock file, so a second node on the
/// same directory fails here instead of corrupting state.
pub fn open(path: &Path) -> Result<fjall::Database, StoreError> {
    fjall::Database::builder(path)
        .open()
        .map_err(|source| StoreError {
            path: path.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = open(dir.path()).unwrap();
        let err = open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("DATA_DIR="), "{err}");
        drop(first);
        assert!(open(dir.path()).is_ok());
    }
}
