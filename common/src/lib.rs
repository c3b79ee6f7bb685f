//! Fork-agnostic building blocks of preconfer: configuration, supervision, metrics, health,
//! JSON-RPC endpoints, retry delays and storage.

pub mod anchor;
pub mod backoff;
pub mod codec;
pub mod commitment;
pub mod config;
pub mod fork;
pub mod health;
pub mod metrics;
pub mod rpc;
pub mod secret;
pub mod store;
pub mod supervisor;
