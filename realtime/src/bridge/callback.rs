//! The L1 side of L2→L1 messages processed before the L2 block that consumes their answers
//! exists (catalyst-reference §5 "L1-callback simulation", without §8.2 and §8.3): the route,
//! the `processMessage` call the proposer's Multicall makes, and the start-up check that the
//! state override predictions rely on (received signals in the L1 SignalService, slot 253)
//! really works against the deployed contract. The simulation itself is [`super::l1_run`].

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::DynProvider,
    sol_types::SolCall,
};
use bindings::{Call, IBridge, ISignalService};
use common::rpc::RpcEndpoint;

use super::{
    message::{BridgeMessage, signal_slot},
    outbound,
    simulate::MessageRoute,
};

/// The L1 side of a callback simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Side {
    /// The proposer's Multicall (the real sender of every call).
    pub multicall: Address,
    /// The proposer EOA (the Multicall's caller).
    pub proposer: Address,
    /// L1 bridge.
    pub bridge: Address,
    /// L1 SignalService.
    pub signal_service: Address,
    /// L2 bridge (the app of the L2→L1 signals).
    pub l2_bridge: Address,
    /// L2 chain id.
    pub l2_chain_id: u64,
}

impl L1Side {
    /// Where the L1→L2 messages of user ops come from and go to.
    pub fn message_route(&self) -> MessageRoute {
        MessageRoute {
            bridge: self.bridge,
            signal_service: self.signal_service,
            dest_chain_id: self.l2_chain_id,
        }
    }
}

/// The calldata of `processMessage(message, "")` on the L1 bridge.
pub fn process(message: &BridgeMessage, bridge: Address) -> Call {
    Call {
        target: bridge,
        value: U256::ZERO,
        data: IBridge::processMessageCall {
            _message: message.message.clone(),
            _proof: Bytes::new(),
        }
        .abi_encode()
        .into(),
    }
}

/// Why the start-up check of the SignalService layout failed.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// The L1 did not answer.
    #[error(transparent)]
    Rpc(#[from] common::rpc::RpcError),
    /// The override did not make a signal received: the contract's layout differs.
    #[error(
        "the L1 SignalService {0} does not keep received signals in a mapping at storage slot 253 (a state override there did not make a signal received); L2→L1→L2 answers cannot be predicted against this deployment: check L1 SignalService (inbox getConfig().signalService) and L1_BRIDGE_ADDRESS"
    )]
    Mismatch(Address),
}

/// Checks that overriding `_receivedSignals` (slot 253) of the L1 SignalService really makes
/// a signal received, with `verifySignalReceived(l2, l2Bridge, probe, "")`.
pub async fn check_layout(
    rpc: &RpcEndpoint,
    provider: &DynProvider,
    side: &L1Side,
) -> Result<(), LayoutError> {
    let probe = B256::repeat_byte(0x5a);
    let slot = signal_slot(side.l2_chain_id, side.l2_bridge, probe);
    let overrides = outbound::fast_signal_override(side.signal_service, &[slot]);
    let service = ISignalService::new(side.signal_service, provider);
    let with = rpc
        .call(
            service
                .verifySignalReceived(side.l2_chain_id, side.l2_bridge, probe, Bytes::new())
                .call()
                .overrides(overrides),
        )
        .await;
    let without = rpc
        .call(
            service
                .verifySignalReceived(side.l2_chain_id, side.l2_bridge, probe, Bytes::new())
                .call(),
        )
        .await;
    match (with, without) {
        (Ok(_), Err(_)) => Ok(()),
        (Err(e), Err(_)) if !e.to_string().to_ascii_lowercase().contains("revert") => {
            Err(LayoutError::Rpc(e))
        }
        _ => Err(LayoutError::Mismatch(side.signal_service)),
    }
}
