//! Paths of the external tools `scripts/install-tools` puts into `.tools/`.

use std::path::PathBuf;

/// The workspace root (where `.tools/` lives).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The anvil binary from the pinned npm package.
pub fn anvil() -> PathBuf {
    workspace_root().join(".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
}
