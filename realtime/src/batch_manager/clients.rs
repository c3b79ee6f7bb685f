//! The clients the batch manager talks to the chains with (leaf module).

use common::{driver::DriverClient, engine::EngineClient, rpc::RpcEndpoint};

use crate::credible_layer::ask::CredibleLayerAsk;

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
    /// The Credible Layer client, when CREDIBLE_LAYER_URL is set.
    pub credible_layer: Option<CredibleLayerAsk>,
}
