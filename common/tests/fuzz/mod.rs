//! The fuzz harness shared by `common/tests/fuzz.rs` and `realtime/tests/fuzz.rs`: the runner,
//! byte mutations, JSON generation and edits, transactions and manifests.

pub mod json;
pub mod manifests;
pub mod mutation;
pub mod runner;
pub mod txs;
