//! Fork-agnostic building blocks of preconfer: configuration, supervision, metrics, health,
//! JSON-RPC endpoints, retry delays and storage.

pub mod anchor;
pub mod backoff;
pub mod basefee;
pub mod codec;
pub mod commitment;
pub mod config;
pub mod credible_layer;
pub mod driver;
pub mod engine;
pub mod faults;
pub mod fork;
pub mod health;
pub mod ids;
pub mod jwt;
pub mod metrics;
pub mod rpc;
pub mod secret;
pub mod sidecar;
pub mod store;
pub mod supervisor;
pub mod tx_manager;
pub mod work;
