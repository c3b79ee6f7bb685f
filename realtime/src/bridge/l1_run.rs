//! The one L1 simulation of a block's cross-chain calls, run exactly as the proposal's
//! Multicall will run them: the calls committed ahead ([`Ahead`]), the block's user ops in
//! order, then the real `Bridge.processMessage(message, "")` of every L2→L1 message of the
//! block in order (catalyst-reference §5, without §8.2 and §8.3). One `debug_traceCall` of the
//! proposer's Multicall, from the proposer, on the state the inbox was read at; the only
//! override marks the L2→L1 messages' signals received in the L1 SignalService (slot 253,
//! checked at start-up), so the empty proofs pass where the real calls carry HopProofs.
//!
//! Each op's L1→L2 messages and each message's answers are read from this run: an op that
//! depends on what an earlier op changed sends what it will really send, with the id the L1
//! bridge will really give it. The Multicall reverts as a whole on the first failing call, so
//! a failure names that call ([`Step`]); the caller takes it out and runs again.

use alloy::{
    eips::BlockId,
    network::TransactionBuilder,
    primitives::Bytes,
    providers::DynProvider,
    rpc::types::{TransactionRequest, trace::geth::CallFrame},
    sol_types::SolCall,
};
use bindings::{Call, IMulticall};
use common::{ids::SignalSlot, rpc::RpcEndpoint};

use super::{
    ahead::Ahead,
    callback::{self, L1Side},
    message::BridgeMessage,
    outbound::{self, BridgeSide, Reading, TraceAt, TraceError},
    simulate,
    status::ReadyOp,
};

/// What one run executes after the calls ahead.
pub struct RunInput<'a> {
    /// Calls committed before this block's.
    pub ahead: &'a Ahead,
    /// The block's user ops, in order.
    pub ops: &'a [ReadyOp],
    /// The block's L2→L1 messages processed on L1 after the propose, in order.
    pub messages: &'a [BridgeMessage],
}

/// A call of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The `n`th call ahead.
    Ahead(usize),
    /// The `n`th user op of the block.
    Op(usize),
    /// The processing of the block's `n`th L2→L1 message.
    Message(usize),
}

/// What the run showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every call ran.
    Ran {
        /// Per op, the L1→L2 messages it sent.
        op_messages: Vec<Vec<BridgeMessage>>,
        /// Per L2→L1 message, the L1→L2 messages its processing sent back (the answers).
        answers: Vec<Vec<BridgeMessage>>,
    },
    /// The Multicall reverted at `step` (unknown when no call is to blame).
    Failed {
        /// The call that reverted.
        step: Option<Step>,
        /// Why, as the trace says.
        why: String,
    },
}

/// Runs `input` on L1 (see the module doc).
pub async fn run(
    rpc: &RpcEndpoint,
    provider: &DynProvider,
    side: &L1Side,
    input: &RunInput<'_>,
) -> Result<RunOutcome, TraceError> {
    let calls: Vec<Call> = input
        .ahead
        .calls
        .iter()
        .cloned()
        .chain(input.ops.iter().map(|op| op.op.call()))
        .chain(
            input
                .messages
                .iter()
                .map(|m| callback::process(m, side.bridge)),
        )
        .collect();
    let request = TransactionRequest::default()
        .with_from(side.proposer)
        .with_to(side.multicall)
        .with_input(Bytes::from(
            IMulticall::multicallCall { calls }.abi_encode(),
        ));
    let slots: Vec<SignalSlot> = input
        .ahead
        .slots
        .iter()
        .copied()
        .chain(input.messages.iter().map(|m| m.slot))
        .collect();
    let overrides =
        (!slots.is_empty()).then(|| outbound::fast_signal_override(side.signal_service, &slots));
    let at = TraceAt {
        block: BlockId::number(input.ahead.l1_block),
        logs: true,
    };
    let frame = outbound::trace_at(rpc, provider, request, overrides, at).await?;
    Ok(read(&frame, side, input))
}

/// Reads a traced run of `input`.
pub fn read(frame: &CallFrame, side: &L1Side, input: &RunInput<'_>) -> RunOutcome {
    let (ahead, ops) = (input.ahead.calls.len(), input.ops.len());
    let calls: Vec<&CallFrame> = frame.calls.iter().filter(|c| c.typ == "CALL").collect();
    let step_of = |index: usize| match index {
        i if i < ahead => Step::Ahead(i),
        i if i < ahead + ops => Step::Op(i - ahead),
        i => Step::Message(i - ahead - ops),
    };
    if frame.error.is_some() {
        let failed = calls.iter().position(|c| c.error.is_some());
        let why = simulate::revert_text(failed.map_or(frame, |i| calls[i]));
        return RunOutcome::Failed {
            step: failed.map(step_of),
            why,
        };
    }
    let expected = ahead + ops + input.messages.len();
    if calls.len() != expected {
        return RunOutcome::Failed {
            step: None,
            why: format!(
                "the L1 multicall trace has {} calls, expected {expected}",
                calls.len()
            ),
        };
    }
    let route = side.message_route();
    let bridge_side = BridgeSide {
        bridge: side.bridge,
        dest_chain_id: side.l2_chain_id,
        src_chain_id: side.l2_chain_id,
    };
    RunOutcome::Ran {
        op_messages: calls[ahead..ahead + ops]
            .iter()
            .map(|call| simulate::messages_sent(call, &route))
            .collect(),
        answers: calls[ahead + ops..]
            .iter()
            .map(|call| {
                outbound::read(call, &bridge_side, Reading::Strict)
                    .sent
                    .into_iter()
                    .map(|m| BridgeMessage::new(m, side.bridge))
                    .collect()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::bridge::{message::signal_slot, status::UserOp};
    use alloy::{
        primitives::{Address, LogData},
        rpc::types::trace::geth::CallLogFrame,
        sol_types::SolEvent,
    };
    use bindings::{IBridge::MessageSent, ISignalService::SignalSent, Message};
    use common::ids::UserOpId;

    const SIDE: L1Side = crate::bridge::returns::TEST_ROUTE.l1;

    fn message(id: u64) -> Message {
        Message {
            id,
            srcChainId: 3_151_908,
            destChainId: SIDE.l2_chain_id,
            gasLimit: 2_000_000,
            ..Default::default()
        }
    }

    /// A call that sent `id` through the bridge: the sendMessage frame (answers are read from
    /// its output) and the bridge's logs (ops' messages are read from those).
    fn sent(id: u64) -> CallFrame {
        let built = BridgeMessage::new(message(id), SIDE.bridge);
        let log = |address: Address, data: LogData| CallLogFrame {
            address: Some(address),
            topics: Some(data.topics().to_vec()),
            data: Some(data.data),
            ..Default::default()
        };
        let mut frame = outbound::send_message_frame(SIDE.bridge, message(id));
        frame.logs = vec![log(
            SIDE.bridge,
            MessageSent {
                msgHash: built.hash,
                message: message(id),
            }
            .encode_log_data(),
        )];
        frame.calls = vec![CallFrame {
            typ: "CALL".into(),
            to: Some(SIDE.signal_service),
            logs: vec![log(
                SIDE.signal_service,
                SignalSent {
                    app: SIDE.bridge,
                    signal: built.hash,
                    slot: built.slot.0,
                    value: built.hash,
                }
                .encode_log_data(),
            )],
            ..Default::default()
        }];
        frame
    }

    fn call(children: Vec<CallFrame>) -> CallFrame {
        CallFrame {
            typ: "CALL".into(),
            calls: children,
            ..Default::default()
        }
    }

    fn op(id: u64) -> ReadyOp {
        ReadyOp {
            id: UserOpId(id),
            op: UserOp {
                submitter: Address::repeat_byte(id as u8),
                calldata: Bytes::new(),
            },
            messages: vec![],
        }
    }

    fn ahead(calls: usize) -> Ahead {
        Ahead {
            calls: vec![op(9).op.call(); calls],
            ..Ahead::none(5)
        }
    }

    #[test]
    fn each_op_and_each_message_gets_what_it_sent_in_execution_order() {
        // One call ahead (sends 10), two ops (11, then nothing), two L2→L1 messages: the
        // first answered with 12, the second with nothing.
        let frame = call(vec![
            call(vec![sent(10)]),
            call(vec![call(vec![sent(11)])]),
            call(vec![]),
            call(vec![call(vec![sent(12)])]),
            call(vec![]),
        ]);
        let ops = [op(1), op(2)];
        let messages = [
            BridgeMessage::new(message(1), SIDE.l2_bridge),
            BridgeMessage::new(message(2), SIDE.l2_bridge),
        ];
        let ahead = ahead(1);
        let input = RunInput {
            ahead: &ahead,
            ops: &ops,
            messages: &messages,
        };
        let RunOutcome::Ran {
            op_messages,
            answers,
        } = read(&frame, &SIDE, &input)
        else {
            panic!("a run expected");
        };
        let ids = |v: &Vec<Vec<BridgeMessage>>| -> Vec<Vec<u64>> {
            v.iter()
                .map(|ms| ms.iter().map(|m| m.message.id).collect())
                .collect()
        };
        assert_eq!(ids(&op_messages), vec![vec![11], vec![]]);
        assert_eq!(ids(&answers), vec![vec![12], vec![]]);
        let answer = &answers[0][0];
        assert_eq!(
            answer.slot,
            signal_slot(3_151_908, SIDE.bridge, answer.hash)
        );
    }

    #[test]
    fn a_failure_names_the_first_call_that_reverted() {
        let ops = [op(1), op(2), op(3)];
        let ahead = ahead(1);
        let input = RunInput {
            ahead: &ahead,
            ops: &ops,
            messages: &[],
        };
        let mut failing = call(vec![]);
        failing.error = Some("execution reverted".into());
        failing.revert_reason = Some("SOLD_OUT".into());
        let mut frame = call(vec![call(vec![]), call(vec![]), failing]);
        frame.error = Some("execution reverted".into());
        let RunOutcome::Failed { step, why } = read(&frame, &SIDE, &input) else {
            panic!("a failure expected");
        };
        assert_eq!(step, Some(Step::Op(1)), "call 2 is the block's second op");
        assert!(why.contains("SOLD_OUT"), "{why}");

        frame.calls.truncate(0);
        assert!(matches!(
            read(&frame, &SIDE, &input),
            RunOutcome::Failed { step: None, .. }
        ));
        let short = call(vec![call(vec![])]);
        assert!(matches!(
            read(&short, &SIDE, &input),
            RunOutcome::Failed { step: None, .. }
        ));
    }
}
