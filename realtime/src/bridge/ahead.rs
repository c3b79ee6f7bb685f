//! What the node has already committed to run on L1 before anything it plans now: for every
//! proposal not on L1 yet (sealed and stored, and the open one, sealed before the next block
//! with cross-chain calls), its user ops, then the processing of the L2→L1 messages its blocks
//! sent, in the order its Multicall runs them (`[ops…, propose, L1 calls…]`). Cross-chain
//! predictions are simulated after these calls, on the L1 state of the block the inbox's head
//! was read at, so a proposal that lands meanwhile is neither missed nor counted twice.

use alloy::{
    eips::BlockId,
    primitives::Address,
    providers::{DynProvider, Provider},
};
use bindings::{Call, IRealTimeInbox};
use common::{ids::SignalSlot, rpc::RpcEndpoint};

use super::{
    callback, l1_calls, message::BridgeMessage, plan::error::PlanError, returns::ReturnRoute,
    status::ReadyOp,
};
use crate::proposal_store::{ProposalRecord, ProposalStore};

/// The L1 calls ahead of a new prediction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ahead {
    /// The L1 block the inbox was read at: predictions run on its state.
    pub l1_block: u64,
    /// The inbox's head then: the last L2 block already on L1.
    pub landed: u64,
    /// The calls, in the order L1 will run them.
    pub calls: Vec<Call>,
    /// The signal slots of the L2→L1 messages they process (overridden as received: the real
    /// calls carry proofs against checkpoints that do not exist yet).
    pub slots: Vec<SignalSlot>,
    /// How many of the calls are user ops.
    pub user_ops: usize,
}

impl Ahead {
    /// Nothing ahead, on the state of `l1_block`.
    pub fn none(l1_block: u64) -> Self {
        Self {
            l1_block,
            ..Default::default()
        }
    }

    /// How many L2→L1 messages the calls process.
    pub fn messages(&self) -> usize {
        self.calls.len() - self.user_ops
    }
}

/// Reads what is ahead: the L1 head, the inbox's head on it, the unlanded proposals in `store`
/// and the L2→L1 messages of every L2 block after the inbox's head up to `l2_head`.
pub async fn read(
    l1: (&RpcEndpoint, &DynProvider),
    l2: (&RpcEndpoint, &DynProvider),
    inbox: Address,
    route: &ReturnRoute,
    store: &ProposalStore,
    l2_head: u64,
) -> Result<Ahead, PlanError> {
    let l1_block = l1.0.block_number(l1.1).await?;
    let head_hash =
        l1.0.call(
            IRealTimeInbox::new(inbox, l1.1)
                .getLastFinalizedBlockHash()
                .block(BlockId::number(l1_block))
                .call(),
        )
        .await?;
    let landed =
        l2.0.call(l2.1.get_block_by_hash(head_hash))
            .await?
            .ok_or_else(|| {
                PlanError::Missing(format!(
                    "the inbox's head {head_hash} is not a block of the L2 (yet)"
                ))
            })?
            .header
            .number;
    let unlanded: Vec<ProposalRecord> = store
        .all()
        .map_err(|e| PlanError::Store(e.to_string()))?
        .into_iter()
        .filter(|p| p.first_block > landed)
        .collect();
    let messages = l1_calls::messages_in(l2.0, l2.1, &route.l2_route(), landed + 1, l2_head)
        .await?
        .into_iter()
        .map(|s| (s.block, s.message))
        .collect::<Vec<_>>();
    Ok(arrange(l1_block, landed, &unlanded, &messages, route))
}

/// Puts each proposal's user ops before the messages of its blocks (`unlanded` by first
/// block; `messages` in the order the L2 bridge sent them, with their blocks).
fn arrange(
    l1_block: u64,
    landed: u64,
    unlanded: &[ProposalRecord],
    messages: &[(u64, BridgeMessage)],
    route: &ReturnRoute,
) -> Ahead {
    let mut ahead = Ahead::none(l1_block);
    ahead.landed = landed;
    let mut proposals = unlanded.iter().peekable();
    let push_ops = |ahead: &mut Ahead, ops: &[ReadyOp]| {
        ahead.calls.extend(ops.iter().map(|op| op.op.call()));
        ahead.user_ops += ops.len();
    };
    for (block, message) in messages {
        while let Some(p) = proposals.next_if(|p| p.first_block <= *block) {
            push_ops(&mut ahead, &p.user_ops);
        }
        ahead
            .calls
            .push(callback::process(message, route.l1.bridge));
        ahead.slots.push(message.slot);
    }
    for p in proposals {
        push_ops(&mut ahead, &p.user_ops);
    }
    ahead
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal_store::L2Checkpoint;
    use alloy::primitives::{B256, Bytes};
    use bindings::Message;
    use common::ids::{ProposalId, UserOpId};

    const ROUTE: ReturnRoute = crate::bridge::returns::TEST_ROUTE;

    fn op(id: u64) -> ReadyOp {
        ReadyOp {
            id: UserOpId(id),
            op: crate::bridge::status::UserOp {
                submitter: Address::repeat_byte(id as u8),
                calldata: Bytes::from(vec![id as u8]),
            },
            messages: vec![],
        }
    }

    fn proposal(first: u64, last: u64, ops: Vec<ReadyOp>) -> ProposalRecord {
        ProposalRecord {
            id: ProposalId(first),
            anchor: 1,
            first_block: first,
            parent_hash: B256::ZERO,
            checkpoint: L2Checkpoint {
                number: last,
                hash: B256::ZERO,
                state_root: B256::ZERO,
            },
            signal_slots: vec![],
            payload: Bytes::new(),
            user_ops: ops,
            returns: Default::default(),
            preconfirmed_at_ms: vec![],
            block_hashes: vec![],
            forced: vec![],
        }
    }

    fn sent(block: u64, id: u64) -> (u64, BridgeMessage) {
        let message = Message {
            id,
            srcChainId: ROUTE.l1.l2_chain_id,
            destChainId: ROUTE.l1_chain_id,
            gasLimit: 1,
            ..Default::default()
        };
        (block, BridgeMessage::new(message, ROUTE.l1.l2_bridge))
    }

    #[test]
    fn each_proposals_ops_run_before_the_messages_of_its_blocks() {
        let unlanded = [
            proposal(5, 6, vec![op(1), op(2)]),
            proposal(7, 7, vec![]),
            proposal(8, 9, vec![op(3)]),
            proposal(10, 10, vec![op(4)]),
        ];
        // Messages in blocks 6 (first proposal), 7 (second), 9 (third) and 11 (open).
        let messages = [sent(6, 40), sent(7, 41), sent(9, 42), sent(11, 43)];
        let ahead = arrange(77, 4, &unlanded, &messages, &ROUTE);
        let calls: Vec<Address> = ahead.calls.iter().map(|c| c.target).collect();
        let bridge = ROUTE.l1.bridge;
        let op_target = |n: u8| Address::repeat_byte(n);
        assert_eq!(
            calls,
            vec![
                op_target(1),
                op_target(2),
                bridge,
                bridge,
                op_target(3),
                bridge,
                op_target(4),
                bridge
            ]
        );
        assert_eq!(ahead.user_ops, 4);
        assert_eq!(ahead.messages(), 4);
        assert_eq!(
            ahead.slots,
            messages.iter().map(|(_, m)| m.slot).collect::<Vec<_>>()
        );
        assert_eq!((ahead.l1_block, ahead.landed), (77, 4));
    }

    #[test]
    fn ops_of_proposals_whose_blocks_sent_nothing_still_come_in_order() {
        let unlanded = [proposal(5, 5, vec![op(1)]), proposal(6, 6, vec![op(2)])];
        let ahead = arrange(1, 4, &unlanded, &[], &ROUTE);
        assert_eq!(ahead.calls.len(), 2);
        assert_eq!(ahead.calls[0].target, Address::repeat_byte(1));
        assert!(ahead.slots.is_empty());
    }
}
