//! The local devnet: real EVMs (anvil) for L1 and L2 with the protocol doubles deployed, and
//! stand-ins for the components that cannot run on this machine. Talks to the node only through
//! its public interfaces.

pub mod anvil;
pub mod tools;
