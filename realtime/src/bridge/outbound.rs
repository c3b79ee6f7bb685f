//! What an L2 tx does with the bridge, read from its `debug_traceCall` (callTracer): the L2→L1
//! messages it sends and the L1→L2 messages it processes with an empty proof (the answers it
//! expects to find as fast signals). Unlike Catalyst (§8.4) every `sendMessage` counts, not only
//! the first, and the message is read from the call's **output**, where the bridge has already
//! filled in `id`, `from` and `srcChainId`.

use alloy::{
    eips::BlockId,
    primitives::{Address, B256, U256, keccak256},
    providers::{DynProvider, ext::DebugApi},
    rpc::types::{
        TransactionRequest,
        state::{StateOverride, StateOverridesBuilder},
        trace::geth::{
            CallConfig, CallFrame, GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace,
        },
    },
    sol_types::{SolCall, SolValue},
};
use bindings::{IBridge, Message};
use common::{
    ids::SignalSlot,
    rpc::{RpcEndpoint, RpcError},
};

/// Storage slot of `SignalService._receivedSignals` (protocol.md §3; checked at start-up).
pub const RECEIVED_SIGNALS_SLOT: u64 = 253;

/// The storage key that marks `slot` received (a fast signal) in a SignalService.
pub fn received_key(slot: SignalSlot) -> B256 {
    keccak256((slot.0, U256::from(RECEIVED_SIGNALS_SLOT)).abi_encode())
}

/// A state override that makes `signal_service` treat `slots` as received fast signals.
pub fn fast_signal_override(signal_service: Address, slots: &[SignalSlot]) -> StateOverride {
    let diff = slots
        .iter()
        .map(|s| (received_key(*s), B256::from(U256::from(1))));
    StateOverridesBuilder::default()
        .with_state_diff(signal_service, diff)
        .build()
}

/// How to read a trace's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// As the tx will really run: nothing below a reverted frame happened.
    Strict,
    /// Every call that itself returned, even under a frame that reverted later (a tx traced
    /// before the fast signal it needs exists reverts as a whole).
    Lenient,
}

/// The bridge calls of one traced tx.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgeUse {
    /// Messages sent to `dest_chain_id`, as the bridge numbered them in this trace.
    pub sent: Vec<Message>,
    /// Messages from `src_chain_id` processed with an empty proof (fast signals).
    pub consumed: Vec<Message>,
    /// Whether the tx as a whole reverted.
    pub reverted: bool,
}

/// Where a trace's bridge calls are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeSide {
    /// The bridge of the traced chain.
    pub bridge: Address,
    /// Chain the sent messages go to.
    pub dest_chain_id: u64,
    /// Chain the consumed messages come from.
    pub src_chain_id: u64,
}

/// The bridge calls in `frame`.
pub fn read(frame: &CallFrame, side: &BridgeSide, reading: Reading) -> BridgeUse {
    let mut found = BridgeUse {
        reverted: frame.error.is_some(),
        ..Default::default()
    };
    let mut frames = frame.iter();
    while let Some(call) = frames.next() {
        let reverted = call.error.is_some();
        if reverted && reading == Reading::Strict {
            frames.skip_children();
            continue;
        }
        if call.to != Some(side.bridge) || call.typ != "CALL" {
            continue;
        }
        let selector = call.input.get(..4);
        if selector == Some(IBridge::processMessageCall::SELECTOR.as_slice()) {
            // Wanted even when it reverted: before its fast signal exists it must.
            if let Ok(pm) = IBridge::processMessageCall::abi_decode(&call.input)
                && pm._proof.is_empty()
                && pm._message.srcChainId == side.src_chain_id
            {
                found.consumed.push(pm._message);
            }
        } else if selector == Some(IBridge::sendMessageCall::SELECTOR.as_slice())
            && !reverted
            && let Some(output) = &call.output
            && let Ok(ret) = IBridge::sendMessageCall::abi_decode_returns(output)
            && ret.message_.destChainId == side.dest_chain_id
        {
            found.sent.push(ret.message_);
        }
    }
    found
}

/// Why a trace is not available.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The node did not answer.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The node answered something else than a call trace.
    #[error("the node answered debug_traceCall without a call trace (does it support callTracer?)")]
    NotACallTrace,
}

/// Where and how a call is traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceAt {
    /// The block whose state the call runs on.
    pub block: BlockId,
    /// Whether frames carry their logs.
    pub logs: bool,
}

impl TraceAt {
    /// The latest block, no logs.
    pub const LATEST: Self = Self {
        block: BlockId::latest(),
        logs: false,
    };
}

/// Traces `request` at the latest block with callTracer, with `overrides` applied.
pub async fn trace(
    rpc: &RpcEndpoint,
    provider: &DynProvider,
    request: TransactionRequest,
    overrides: Option<StateOverride>,
) -> Result<CallFrame, TraceError> {
    trace_at(rpc, provider, request, overrides, TraceAt::LATEST).await
}

/// Traces `request` with callTracer as `at` says, with `overrides` applied.
pub async fn trace_at(
    rpc: &RpcEndpoint,
    provider: &DynProvider,
    request: TransactionRequest,
    overrides: Option<StateOverride>,
    at: TraceAt,
) -> Result<CallFrame, TraceError> {
    let mut options =
        GethDebugTracingCallOptions::new(GethDebugTracingOptions::call_tracer(CallConfig {
            only_top_call: Some(false),
            with_log: Some(at.logs),
        }));
    if let Some(overrides) = overrides {
        options = options.with_state_overrides(overrides);
    }
    match rpc
        .call(provider.debug_trace_call(request, at.block, options))
        .await?
    {
        GethTrace::CallTracer(frame) => Ok(frame),
        _ => Err(TraceError::NotACallTrace),
    }
}

/// A `sendMessage` call to `bridge` as callTracer shows it, the bridge having sent `message`.
#[cfg(test)]
pub(crate) fn send_message_frame(bridge: Address, message: Message) -> CallFrame {
    CallFrame {
        typ: "CALL".into(),
        to: Some(bridge),
        input: IBridge::sendMessageCall {
            _message: Message::default(),
        }
        .abi_encode()
        .into(),
        output: Some(
            IBridge::sendMessageCall::abi_encode_returns(&IBridge::sendMessageReturn {
                msgHash_: B256::repeat_byte(1),
                message_: message,
            })
            .into(),
        ),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy::primitives::Bytes;

    const SIDE: BridgeSide = BridgeSide {
        bridge: Address::repeat_byte(0xb2),
        dest_chain_id: 3_151_908,
        src_chain_id: 3_151_908,
    };

    fn message(id: u64, src: u64, dest: u64) -> Message {
        Message {
            id,
            gasLimit: 2_000_000,
            srcChainId: src,
            destChainId: dest,
            to: Address::repeat_byte(0xcc),
            data: Bytes::from(vec![id as u8]),
            ..Default::default()
        }
    }

    fn send(m: Message, error: Option<&str>) -> CallFrame {
        CallFrame {
            error: error.map(str::to_string),
            ..send_message_frame(SIDE.bridge, m)
        }
    }

    fn process(m: Message, proof: &[u8], error: Option<&str>) -> CallFrame {
        CallFrame {
            typ: "CALL".into(),
            to: Some(SIDE.bridge),
            input: IBridge::processMessageCall {
                _message: m,
                _proof: Bytes::copy_from_slice(proof),
            }
            .abi_encode()
            .into(),
            error: error.map(str::to_string),
            ..Default::default()
        }
    }

    /// A swap-like tx: sends two messages to L1, one to elsewhere, one in a reverted frame,
    /// processes its answer (reverting: no fast signal yet) and a proved message.
    fn swap_tx() -> CallFrame {
        let l1 = SIDE.dest_chain_id;
        CallFrame {
            typ: "CALL".into(),
            error: Some("execution reverted".into()),
            calls: vec![
                send(message(5, 167_001, l1), None),
                CallFrame {
                    typ: "CALL".into(),
                    error: Some("execution reverted".into()),
                    calls: vec![send(message(6, 167_001, l1), None)],
                    ..Default::default()
                },
                send(message(7, 167_001, 99), None),
                send(message(8, 167_001, l1), None),
                process(message(40, l1, 167_001), b"", Some("B_SIGNAL_NOT_RECEIVED")),
                process(message(41, l1, 167_001), b"proof", None),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn lenient_reading_finds_every_message_sent_and_every_answer_consumed() {
        let used = read(&swap_tx(), &SIDE, Reading::Lenient);
        let ids = |ms: &[Message]| ms.iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(&used.sent), vec![5, 6, 8], "all of them, to L1 only");
        assert_eq!(ids(&used.consumed), vec![40], "fast-signal answers only");
        assert!(used.reverted);
    }

    #[test]
    fn strict_reading_drops_what_a_reverted_frame_undid() {
        let mut tx = swap_tx();
        tx.error = None;
        let used = read(&tx, &SIDE, Reading::Strict);
        let ids: Vec<u64> = used.sent.iter().map(|m| m.id).collect();
        assert_eq!(
            ids,
            vec![5, 8],
            "message 6 was sent in a frame that reverted"
        );
        assert!(!used.reverted);
        assert_eq!(
            read(&swap_tx(), &SIDE, Reading::Strict),
            BridgeUse {
                reverted: true,
                ..Default::default()
            }
        );
    }

    #[test]
    fn the_received_key_is_the_mapping_entry_at_slot_253() {
        // keccak256(abi.encode(bytes32 key, uint256 253)): the Solidity mapping layout.
        let slot = SignalSlot(B256::repeat_byte(0x11));
        let mut raw = [0u8; 64];
        raw[..32].copy_from_slice(slot.0.as_slice());
        raw[63] = 253;
        assert_eq!(received_key(slot), keccak256(raw));
    }
}
