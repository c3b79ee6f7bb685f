//! The L1 answers to L2→L1 messages, predicted before the L2 block that consumes them exists
//! (catalyst-reference §5 "L1-callback simulation", without §8.2 and §8.3).
//!
//! Catalyst calls the message's target directly from the bridge with `__ctx` overridden, which
//! skips everything `processMessage` decides (gas limit, status, invocation rules) and numbers
//! the answer with `nextMessageId` as if nothing ran before it. Here the proposer's Multicall is
//! traced as it will run on L1: the proposal's user ops first, then the real
//! `Bridge.processMessage(message, "")` of every L2→L1 message of the block in order. The only
//! override marks those messages' signals received in the L1 SignalService (its
//! `_receivedSignals` mapping, slot 253, checked against the deployed contract at start-up), so
//! the empty proof passes where the real tx will carry a HopProof. The bridge sets its own
//! context, and each answer gets the id the L1 bridge will really give it.

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    providers::DynProvider,
    rpc::types::{TransactionRequest, trace::geth::CallFrame},
    sol_types::SolCall,
};
use bindings::{Call, IBridge, IMulticall, ISignalService};
use common::{ids::SignalSlot, rpc::RpcEndpoint};

use super::{
    message::{BridgeMessage, signal_slot},
    outbound::{self, BridgeSide, Reading, TraceError},
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

/// What the L1 would do with a block's L2→L1 messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answers {
    /// For each message, in order, the L1→L2 messages its processing sends.
    Each(Vec<Vec<BridgeMessage>>),
    /// The Multicall reverts (a user op fails): nothing can be predicted.
    Reverted(String),
}

/// The calldata of `processMessage(message, "")` on the L1 bridge.
fn process(message: &BridgeMessage, bridge: Address) -> Call {
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

/// Traces the Multicall `[prefix…, processMessage(m) for m in messages]` on L1 at its latest
/// block, the messages' signals received.
pub async fn answers(
    rpc: &RpcEndpoint,
    provider: &DynProvider,
    side: &L1Side,
    prefix: &[Call],
    messages: &[BridgeMessage],
) -> Result<Answers, TraceError> {
    if messages.is_empty() {
        return Ok(Answers::Each(Vec::new()));
    }
    let calls: Vec<Call> = prefix
        .iter()
        .cloned()
        .chain(messages.iter().map(|m| process(m, side.bridge)))
        .collect();
    let request = TransactionRequest::default()
        .with_from(side.proposer)
        .with_to(side.multicall)
        .with_input(Bytes::from(
            IMulticall::multicallCall { calls }.abi_encode(),
        ));
    let slots: Vec<SignalSlot> = messages.iter().map(|m| m.slot).collect();
    let overrides = outbound::fast_signal_override(side.signal_service, &slots);
    let frame = outbound::trace(rpc, provider, request, Some(overrides)).await?;
    Ok(read_answers(&frame, side, prefix.len(), messages.len()))
}

/// The answers in a traced Multicall whose first `prefix` calls are user ops, followed by
/// `count` processMessage calls.
pub fn read_answers(frame: &CallFrame, side: &L1Side, prefix: usize, count: usize) -> Answers {
    if let Some(error) = &frame.error {
        let why = frame.revert_reason.clone().unwrap_or_else(|| error.clone());
        return Answers::Reverted(format!("the L1 multicall reverts: {why}"));
    }
    let bridge_side = BridgeSide {
        bridge: side.bridge,
        dest_chain_id: side.l2_chain_id,
        src_chain_id: side.l2_chain_id,
    };
    let calls: Vec<&CallFrame> = frame.calls.iter().filter(|c| c.typ == "CALL").collect();
    if calls.len() != prefix + count {
        return Answers::Reverted(format!(
            "the L1 multicall trace has {} calls, expected {}",
            calls.len(),
            prefix + count
        ));
    }
    Answers::Each(
        calls[prefix..]
            .iter()
            .map(|call| {
                outbound::read(call, &bridge_side, Reading::Strict)
                    .sent
                    .into_iter()
                    .map(|m| BridgeMessage::new(m, side.bridge))
                    .collect()
            })
            .collect(),
    )
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bindings::Message;

    const SIDE: L1Side = L1Side {
        multicall: Address::repeat_byte(0x3c),
        proposer: Address::repeat_byte(0x0e),
        bridge: Address::repeat_byte(0xb1),
        signal_service: Address::repeat_byte(0x51),
        l2_bridge: Address::repeat_byte(0xb2),
        l2_chain_id: 167_001,
    };

    fn sent(id: u64) -> CallFrame {
        let message = Message {
            id,
            srcChainId: 3_151_908,
            destChainId: SIDE.l2_chain_id,
            gasLimit: 2_000_000,
            ..Default::default()
        };
        outbound::send_message_frame(SIDE.bridge, message)
    }

    fn call(children: Vec<CallFrame>) -> CallFrame {
        CallFrame {
            typ: "CALL".into(),
            calls: children,
            ..Default::default()
        }
    }

    #[test]
    fn each_message_gets_the_answers_sent_while_it_was_processed() {
        // A user op that deposits (id 10), then two processMessage calls: the first answers
        // with id 11, the second with nothing.
        let frame = call(vec![
            call(vec![sent(10)]),
            call(vec![call(vec![sent(11)])]),
            call(vec![]),
        ]);
        let Answers::Each(each) = read_answers(&frame, &SIDE, 1, 2) else {
            panic!("answers expected");
        };
        let ids: Vec<Vec<u64>> = each
            .iter()
            .map(|a| a.iter().map(|m| m.message.id).collect())
            .collect();
        assert_eq!(ids, vec![vec![11], vec![]]);
        assert_eq!(each[0][0].slot, {
            let m = &each[0][0];
            signal_slot(3_151_908, SIDE.bridge, m.hash)
        });
    }

    #[test]
    fn a_reverting_multicall_or_a_trace_of_another_shape_predicts_nothing() {
        let mut frame = call(vec![call(vec![]), call(vec![])]);
        frame.error = Some("execution reverted".into());
        assert!(matches!(
            read_answers(&frame, &SIDE, 1, 1),
            Answers::Reverted(_)
        ));
        let frame = call(vec![call(vec![])]);
        assert!(matches!(
            read_answers(&frame, &SIDE, 1, 1),
            Answers::Reverted(_)
        ));
    }
}
