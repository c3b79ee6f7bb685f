//! The Surge real-time fork: its actors, wired under the node's root supervisor.

pub mod chain_monitor;
pub mod config;

use std::sync::Arc;

use chain_monitor::{ChainMonitor, ChainMonitorSetup};
use common::{
    config::CommonConfig,
    health::ChainStatus,
    rpc::RpcEndpoint,
    supervisor::{Handle, Restart, SupervisorBuilder},
};
use config::RealtimeConfig;
use tokio::sync::watch;

/// Handles to the realtime actors, valid across restarts.
pub struct RealtimeHandles {
    /// The chain monitor.
    pub chain_monitor: Handle<ChainMonitor>,
}

/// Adds the realtime actors to `supervisor` in start order. `chain_status` is where the chain
/// monitor publishes for the health server.
pub fn register(
    supervisor: &mut SupervisorBuilder,
    common: &CommonConfig,
    config: &RealtimeConfig,
    chain_status: Arc<watch::Sender<ChainStatus>>,
) -> RealtimeHandles {
    let setup = ChainMonitorSetup {
        // Validation guarantees at least one L1 URL; the first one serves reads.
        l1: RpcEndpoint::new(common.l1_rpc_urls[0].clone(), common.l1_rpc_timeout),
        l2: RpcEndpoint::new(common.l2_rpc_url.clone(), common.l2_rpc_timeout),
        inbox: config.inbox,
        interval: common.heartbeat,
        status: chain_status,
    };
    let chain_monitor = supervisor.child("chain_monitor", Restart::Permanent, move |link| {
        Ok::<_, std::convert::Infallible>(ChainMonitor::new(setup.clone(), link))
    });
    RealtimeHandles { chain_monitor }
}
