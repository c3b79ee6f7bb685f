//! The local devnet: real EVMs (anvil) for L1 and L2 with the protocol doubles deployed, and
//! stand-ins for the components that cannot run on this machine (the taiko driver/geth surface,
//! Raiko, the beacon API). Talks to the node only through its public interfaces.

pub mod accounts;
pub mod anvil;
pub mod beacon;
pub mod control;
pub mod credible;
pub mod deploy;
pub mod driver;
pub mod jwt;
pub mod l2;
pub mod l2_rpc;
pub mod network;
pub mod pool;
pub mod raiko;
pub mod rpc;
pub mod tools;
