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

/// An id counter's stored value is not 8 bytes: ids cannot safely continue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the stored id counter {key} is {len} bytes, not 8: refusing to guess the next id (an id reused would overwrite a stored record); restore DATA_DIR from a backup"
)]
pub struct BadCounter {
    /// The counter's key.
    pub key: String,
    /// Its length.
    pub len: usize,
}

/// Reads a big-endian u64 id counter: `Ok(None)` when it was never written (a fresh database).
pub fn read_counter(value: Option<&[u8]>, key: &str) -> Result<Option<u64>, BadCounter> {
    let Some(value) = value else {
        return Ok(None);
    };
    <[u8; 8]>::try_from(value)
        .map(|bytes| Some(u64::from_be_bytes(bytes)))
        .map_err(|_| BadCounter {
            key: key.to_string(),
            len: value.len(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_or_refused_never_guessed() {
        assert_eq!(read_counter(None, "next_id"), Ok(None));
        assert_eq!(
            read_counter(Some(&7u64.to_be_bytes()), "next_id"),
            Ok(Some(7))
        );
        let error = read_counter(Some(&[1, 2, 3]), "next_id").unwrap_err();
        assert!(error.to_string().contains("next_id is 3 bytes"), "{error}");
    }

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
