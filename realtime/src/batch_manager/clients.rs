//! The clients the batch manager talks to the chains with (leaf module).

use common::{driver::DriverClient, engine::EngineClient, rpc::RpcEndpoint};

/// The clients a BatchManager uses.
#[derive(Clone)]
pub struct Clients {
    /// L1 reads.
    pub l1: RpcEndpoint,
    /// L2 reads.
    pub l2: RpcEndpoint,
    /// Pool content.
    pub engine: EngineClient,
    /// Block insertion and reorgs.
    pub driver: DriverClient,
    /// For the beacon API.
    pub http: reqwest::Client,
}
