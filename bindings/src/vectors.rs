//! Where conformance tests find the shared protocol vectors: `PROTOCOL_VECTORS` if set, else
//! `../shared/testdata/protocol-vectors.json` beside the checkout.

use std::path::PathBuf;

/// The variable that points the conformance tests at another vectors file of the same schema.
pub const ENV: &str = "PROTOCOL_VECTORS";

/// Path of the vectors file the conformance tests read.
pub fn path() -> PathBuf {
    std::env::var_os(ENV).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/testdata/protocol-vectors.json"
        ))
    })
}
