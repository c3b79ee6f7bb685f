//! The L1 simulation of a user op: `debug_traceCall` (callTracer with logs) of the op as the
//! proposer Multicall will run it, and every L1→L2 bridge message it sends (catalyst-reference
//! §5 "UserOp simulation", without its weak points §8.4 and §8.16): all `MessageSent` logs of
//! the L1 bridge, each paired with the `SignalSent` of its hash, frames that reverted excluded,
//! in the order the bridge numbered them; the sender is the Multicall, not the proposer.

use alloy::{
    eips::BlockId,
    network::TransactionBuilder,
    primitives::Address,
    providers::{DynProvider, ext::DebugApi},
    rpc::types::{
        TransactionRequest,
        trace::geth::{
            CallConfig, CallFrame, GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace,
        },
    },
    sol_types::SolEvent,
};
use bindings::{IBridge::MessageSent, ISignalService::SignalSent};
use common::rpc::{RpcEndpoint, RpcError};

use super::{message::BridgeMessage, status::UserOp};

/// Where L1→L2 messages come from and go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRoute {
    /// The source chain's bridge.
    pub bridge: Address,
    /// The source chain's SignalService.
    pub signal_service: Address,
    /// The destination chain id.
    pub dest_chain_id: u64,
}

/// What the simulation says about an op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Simulated {
    /// It runs and sends these messages (at least one).
    Messages(Vec<BridgeMessage>),
    /// It cannot be included; why, for the user.
    Rejected(String),
}

/// Reason given to ops that send no message (Catalyst's wording, then what it means).
pub const NO_MESSAGE: &str = "L1 UserOp with no bridge message: the op sent no message to L2 through the L1 bridge, so there is nothing to run on L2";

/// Traces `op` on L1 at the latest block as sent by `from` (the proposer Multicall).
pub async fn simulate(
    l1: &RpcEndpoint,
    provider: &DynProvider,
    from: Address,
    op: &UserOp,
    route: &MessageRoute,
) -> Result<Simulated, RpcError> {
    let request = TransactionRequest::default()
        .with_from(from)
        .with_to(op.submitter)
        .with_input(op.calldata.clone());
    let options = GethDebugTracingCallOptions::new(GethDebugTracingOptions::call_tracer(
        CallConfig::default().with_log(),
    ));
    let trace = l1
        .call(provider.debug_trace_call(request, BlockId::latest(), options))
        .await?;
    let GethTrace::CallTracer(frame) = trace else {
        return Ok(Simulated::Rejected(
            "the L1 node answered debug_traceCall without a call trace; the op cannot be checked"
                .into(),
        ));
    };
    Ok(judge(&frame, route))
}

/// The verdict on a traced op.
pub fn judge(frame: &CallFrame, route: &MessageRoute) -> Simulated {
    if frame.error.is_some() {
        return Simulated::Rejected(format!(
            "the op reverts on L1 ({}); check the submitter, the calldata and its signature",
            revert_text(frame)
        ));
    }
    let messages = messages_sent(frame, route);
    if messages.is_empty() {
        Simulated::Rejected(NO_MESSAGE.into())
    } else {
        Simulated::Messages(messages)
    }
}

/// A reverted frame's error and reason (the decoded reason, else the raw revert data).
pub fn revert_text(frame: &CallFrame) -> String {
    let error = frame.error.as_deref().unwrap_or("reverted");
    let reason = frame
        .revert_reason
        .clone()
        .or_else(|| {
            frame
                .output
                .as_ref()
                .filter(|o| !o.is_empty())
                .map(|o| o.to_string())
        })
        .unwrap_or_default();
    if reason.is_empty() {
        error.to_string()
    } else {
        format!("{error}: {reason}")
    }
}

/// Every message to `route.dest_chain_id` the bridge sent and signalled in frames that did not
/// revert, by id.
pub fn messages_sent(frame: &CallFrame, route: &MessageRoute) -> Vec<BridgeMessage> {
    let mut sent = Vec::new();
    let mut signals = std::collections::HashSet::new();
    let mut frames = frame.iter();
    while let Some(call) = frames.next() {
        if call.error.is_some() {
            // A reverted frame's logs (and its children's) never happened.
            frames.skip_children();
            continue;
        }
        for log in &call.logs {
            let (Some(address), Some(topics), Some(data)) = (log.address, &log.topics, &log.data)
            else {
                continue;
            };
            if address == route.bridge && topics.first() == Some(&MessageSent::SIGNATURE_HASH) {
                if let Ok(event) = MessageSent::decode_raw_log(topics.iter().copied(), data) {
                    sent.push(event);
                }
            } else if address == route.signal_service
                && topics.first() == Some(&SignalSent::SIGNATURE_HASH)
                && let Ok(event) = SignalSent::decode_raw_log(topics.iter().copied(), data)
                && event.app == route.bridge
            {
                signals.insert(event.signal);
            }
        }
    }
    let mut messages: Vec<BridgeMessage> = sent
        .into_iter()
        .filter(|e| e.message.destChainId == route.dest_chain_id && signals.contains(&e.msgHash))
        .map(|e| BridgeMessage::new(e.message, route.bridge))
        .filter(|m| signals.contains(&m.hash))
        .collect();
    messages.sort_by_key(|m| m.message.id);
    messages
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy::{
        primitives::{B256, Bytes, LogData, U256},
        rpc::types::trace::geth::CallLogFrame,
    };
    use bindings::Message;

    const ROUTE: MessageRoute = MessageRoute {
        bridge: Address::repeat_byte(0xb1),
        signal_service: Address::repeat_byte(0x55),
        dest_chain_id: 167_001,
    };

    fn message(id: u64, dest: u64) -> Message {
        Message {
            id,
            fee: 0,
            gasLimit: 1_000_000,
            from: Address::repeat_byte(0xaa),
            srcChainId: 3_151_908,
            srcOwner: Address::repeat_byte(0xaa),
            destChainId: dest,
            destOwner: Address::repeat_byte(0xcc),
            to: Address::repeat_byte(0xcc),
            value: U256::ZERO,
            data: Bytes::from(vec![1, 2, 3]),
        }
    }

    fn log(address: Address, data: LogData) -> CallLogFrame {
        CallLogFrame {
            address: Some(address),
            topics: Some(data.topics().to_vec()),
            data: Some(data.data),
            ..Default::default()
        }
    }

    /// The logs `Bridge.sendMessage` emits: MessageSent, then the signal service's SignalSent.
    fn send_frame(m: Message, signalled: bool, error: Option<&str>) -> CallFrame {
        let built = BridgeMessage::new(m.clone(), ROUTE.bridge);
        let sent = MessageSent {
            msgHash: built.hash,
            message: m,
        };
        let signal = SignalSent {
            app: ROUTE.bridge,
            signal: if signalled { built.hash } else { B256::ZERO },
            slot: built.slot.0,
            value: built.hash,
        };
        CallFrame {
            to: Some(ROUTE.bridge),
            logs: vec![log(ROUTE.bridge, sent.encode_log_data())],
            calls: vec![CallFrame {
                to: Some(ROUTE.signal_service),
                logs: vec![log(ROUTE.signal_service, signal.encode_log_data())],
                ..Default::default()
            }],
            error: error.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn all_signalled_messages_to_l2_are_found_in_id_order_and_reverted_frames_are_not() {
        let top = CallFrame {
            calls: vec![
                send_frame(message(9, ROUTE.dest_chain_id), true, None),
                send_frame(message(7, ROUTE.dest_chain_id), true, None),
                send_frame(
                    message(8, ROUTE.dest_chain_id),
                    true,
                    Some("execution reverted"),
                ),
                send_frame(message(10, 1), true, None),
                send_frame(message(11, ROUTE.dest_chain_id), false, None),
            ],
            ..Default::default()
        };
        let Simulated::Messages(found) = judge(&top, &ROUTE) else {
            panic!("messages expected");
        };
        let ids: Vec<u64> = found.iter().map(|m| m.message.id).collect();
        assert_eq!(
            ids,
            vec![7, 9],
            "reverted, foreign-chain and unsignalled messages are left out"
        );
        assert_eq!(
            found[0],
            BridgeMessage::new(message(7, ROUTE.dest_chain_id), ROUTE.bridge)
        );
    }

    #[test]
    fn a_reverting_op_or_one_without_messages_is_rejected_with_a_reason() {
        let reverted = CallFrame {
            error: Some("execution reverted".into()),
            revert_reason: Some("INVALID_SIGNATURE".into()),
            ..Default::default()
        };
        let Simulated::Rejected(reason) = judge(&reverted, &ROUTE) else {
            panic!("rejected expected");
        };
        assert!(
            reason.contains("reverts on L1") && reason.contains("INVALID_SIGNATURE"),
            "{reason}"
        );
        assert_eq!(
            judge(&CallFrame::default(), &ROUTE),
            Simulated::Rejected(NO_MESSAGE.into())
        );
    }
}
