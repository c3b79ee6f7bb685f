//! Byte formats the node posts and the driver and prover re-derive: the manifest, its payload
//! frame and the blob packing. Pure functions, no I/O.

pub mod blob;
pub mod deflate;
pub mod manifest;
pub mod manifest_stream;
pub mod payload;
pub mod privacy;
