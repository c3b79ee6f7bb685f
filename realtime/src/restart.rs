//! What a restart finds and keeps. A preconfirmation is a promise ("your tx is in block N"), so
//! a restart takes back no block that can still be proposed:
//! - the stored proposals that continue the inbox's head (each on the canonical L2) are proved
//!   and sent again by the submitter ([`continuing`]);
//! - the L2 blocks after them, which were preconfirmed but not sealed yet, are read back from the
//!   L2 and become the batch manager's open proposal again ([`rebuild`]), grouped by anchor.
//!
//! A block whose anchor carries fast signals is taken back with the user ops whose L1→L2
//! messages those slots are: a block the driver inserted while the node was being killed (so it
//! never stored its proposal) still has its ops waiting, ready, in the status store.
//!
//! Only a block that cannot be proposed any more stops the rebuild, and is reorged away with the
//! blocks after it: its anchor has left L1's `blockhash` window, or its fast signals are not the
//! messages of ops still waiting (their proposal was dropped; those ops are retried instead), or
//! it has no anchor tx at all, or it is a forced inclusion's block (the inclusion is still
//! queued in the inbox, so it is built again from there).

use alloy::{
    consensus::{BlockHeader, Transaction as _, TxEnvelope},
    eips::{BlockNumHash, BlockNumberOrTag},
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use bindings::{IAnchor, IRealTimeInbox};
use common::{
    anchor::{ANCHOR_GAS_LIMIT, GOLDEN_TOUCH_ADDRESS},
    codec::manifest::BlockManifest,
    driver::InsertedBlock,
    rpc::{RpcEndpoint, RpcError},
};

use crate::{
    bridge::status::ReadyOp,
    proposal::{L1Anchor, PreconfirmedBlock},
    proposal_store::{L2Checkpoint, ProposalRecord},
};
use common::ids::SignalSlot;

/// What landed could not be read back from the chains.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadBackError {
    /// The inbox did not answer.
    #[error("reading the inbox head: {0}")]
    InboxHead(RpcError),
    /// The L2 did not answer.
    #[error("reading L2 block {block}: {source}")]
    L2Block {
        /// The block asked for (number or hash).
        block: String,
        /// Why.
        source: RpcError,
    },
    /// The inbox's head is not on this L2.
    #[error(
        "the inbox's head {0} is not an L2 block this L2 node has (is L2_RPC_URL the rollup the inbox finalizes?)"
    )]
    UnknownHead(B256),
}

/// Reads the inbox head as an L2 block.
pub async fn inbox_head(
    l1: &RpcEndpoint,
    l1p: &DynProvider,
    l2: &RpcEndpoint,
    l2p: &DynProvider,
    inbox: Address,
) -> Result<BlockNumHash, ReadBackError> {
    let hash = l1
        .call(
            IRealTimeInbox::new(inbox, l1p)
                .getLastFinalizedBlockHash()
                .call(),
        )
        .await
        .map_err(ReadBackError::InboxHead)?;
    let block = l2
        .call(l2p.get_block_by_hash(hash))
        .await
        .map_err(|source| ReadBackError::L2Block {
            block: hash.to_string(),
            source,
        })?
        .ok_or(ReadBackError::UnknownHead(hash))?;
    Ok(BlockNumHash {
        number: block.header.number,
        hash,
    })
}

/// Whether the checkpoint is a block of the canonical L2.
pub async fn on_chain(
    l2: &RpcEndpoint,
    l2p: &DynProvider,
    cp: &L2Checkpoint,
) -> Result<bool, ReadBackError> {
    let block = l2
        .call(l2p.get_block_by_number(BlockNumberOrTag::Number(cp.number)))
        .await
        .map_err(|source| ReadBackError::L2Block {
            block: cp.number.to_string(),
            source,
        })?;
    Ok(block.is_some_and(|b| b.header.hash == cp.hash))
}

/// Stored proposals split into those that continue `landed` one after the other on the
/// canonical L2 (to prove and send again) and the rest; and the last continuing block.
pub async fn continuing(
    l2: &RpcEndpoint,
    l2p: &DynProvider,
    stored: Vec<ProposalRecord>,
    landed: BlockNumHash,
) -> Result<(Vec<ProposalRecord>, Vec<ProposalRecord>, BlockNumHash), ReadBackError> {
    let mut tip = landed;
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for record in stored {
        let continues = record.parent_hash == tip.hash && record.first_block == tip.number + 1;
        if continues && on_chain(l2, l2p, &record.checkpoint).await? {
            tip = BlockNumHash {
                number: record.checkpoint.number,
                hash: record.checkpoint.hash,
            };
            kept.push(record);
        } else {
            dropped.push(record);
        }
    }
    Ok((kept, dropped, tip))
}

/// Why rebuilding stopped at a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// Its first tx is not an anchor.
    NoAnchor,
    /// Its anchor carries fast signals whose L1 calls no stored proposal has.
    FastSignals,
    /// Its anchor block left (or is about to leave) L1's `blockhash` window.
    AnchorTooOld,
    /// It is a forced inclusion's block (fee recipient 0x0): its source (queue entry and
    /// blob) was not kept, so it is rebuilt from the inbox's queue instead.
    ForcedInclusion,
}

impl StopCause {
    /// Label for the metric.
    pub fn label(self) -> &'static str {
        match self {
            Self::NoAnchor => "no_anchor",
            Self::FastSignals => "fast_signals",
            Self::AnchorTooOld => "anchor_too_old",
            Self::ForcedInclusion => "forced_inclusion",
        }
    }
}

/// What a restart rebuilds for the open proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// The blocks after the last continuing proposal, with their anchors, in order.
    pub blocks: Vec<(L1Anchor, PreconfirmedBlock)>,
    /// The first block that cannot be proposed any more, and why.
    pub stop: Option<(u64, StopCause)>,
}

/// An L2 block as read back: its header facts and its txs, the anchor first.
pub struct L2Block {
    /// Number, hash, state root, parent.
    pub header: InsertedBlock,
    /// Timestamp, seconds.
    pub timestamp: u64,
    /// Fee recipient.
    pub coinbase: Address,
    /// Gas limit (the anchor's share included).
    pub gas_limit: u64,
    /// Its txs.
    pub txs: Vec<TxEnvelope>,
}

/// Reads blocks `after + 1 ..= head` back and rebuilds those that can still be proposed;
/// `l1_head` and `max_anchor_age` decide whether an anchor is still usable.
pub async fn rebuild(
    l2: &RpcEndpoint,
    l2p: &DynProvider,
    (after, head): (u64, u64),
    l1_head: u64,
    (max_anchor_age, ready): (u64, &[ReadyOp]),
) -> Result<Rebuilt, RpcError> {
    let mut rebuilt = Rebuilt::default();
    for number in after + 1..=head {
        let Some(block) = l2
            .call(
                l2p.get_block_by_number(BlockNumberOrTag::Number(number))
                    .full(),
            )
            .await?
        else {
            break; // the head moved back meanwhile: nothing more to rebuild
        };
        let h = &block.header;
        let read = L2Block {
            header: InsertedBlock {
                number,
                hash: h.hash,
                state_root: h.state_root(),
                parent_hash: h.parent_hash,
            },
            timestamp: h.timestamp,
            coinbase: h.beneficiary,
            gas_limit: h.gas_limit,
            txs: block
                .transactions
                .into_transactions()
                .map(|tx| tx.inner.into_inner())
                .collect(),
        };
        match check(read, l1_head, max_anchor_age, ready) {
            Ok(block) => rebuilt.blocks.push(block),
            Err(cause) => {
                rebuilt.stop = Some((number, cause));
                break;
            }
        }
    }
    Ok(rebuilt)
}

/// A block as the open proposal records it, if it can still be proposed.
pub fn check(
    block: L2Block,
    l1_head: u64,
    max_anchor_age: u64,
    ready: &[ReadyOp],
) -> Result<(L1Anchor, PreconfirmedBlock), StopCause> {
    let mut txs = block.txs.into_iter();
    let anchor_tx = txs.next().ok_or(StopCause::NoAnchor)?;
    let from_golden_touch =
        alloy::consensus::transaction::SignerRecoverable::recover_signer(&anchor_tx)
            .is_ok_and(|s| s == GOLDEN_TOUCH_ADDRESS);
    let call = IAnchor::anchorV4WithSignalSlotsCall::abi_decode(anchor_tx.input())
        .ok()
        .filter(|_| from_golden_touch)
        .ok_or(StopCause::NoAnchor)?;
    let signal_slots: Vec<SignalSlot> = call._signalSlots.iter().map(|s| SignalSlot(*s)).collect();
    let user_ops = ops_for(&signal_slots, ready).ok_or(StopCause::FastSignals)?;
    let anchor = L1Anchor {
        number: call._checkpoint.blockNumber.to::<u64>(),
        hash: call._checkpoint.blockHash,
        state_root: call._checkpoint.stateRoot,
    };
    if l1_head.saturating_sub(anchor.number) > max_anchor_age {
        return Err(StopCause::AnchorTooOld);
    }
    if block.coinbase == Address::ZERO {
        return Err(StopCause::ForcedInclusion);
    }
    let block = PreconfirmedBlock {
        manifest: BlockManifest {
            timestamp: block.timestamp,
            coinbase: block.coinbase,
            anchor_block_number: anchor.number,
            gas_limit: block.gas_limit.saturating_sub(ANCHOR_GAS_LIMIT),
            transactions: txs.collect(),
        },
        header: block.header,
        signal_slots,
        user_ops,
        returns: Default::default(),
        preconfirmed_at_ms: block.timestamp.saturating_mul(1_000),
        forced: None,
    };
    Ok((anchor, block))
}

/// The waiting ops whose messages' slots are exactly `slots`, in order (ops not in the block
/// are skipped); `None` when the slots are not theirs.
fn ops_for(slots: &[SignalSlot], ready: &[ReadyOp]) -> Option<Vec<ReadyOp>> {
    let mut rest = slots;
    let mut ops = Vec::new();
    for op in ready {
        if rest.is_empty() {
            break;
        }
        let theirs: Vec<SignalSlot> = op.messages.iter().map(|m| m.slot).collect();
        if !theirs.is_empty() && rest.starts_with(&theirs) {
            rest = &rest[theirs.len()..];
            ops.push(op.clone());
        }
    }
    rest.is_empty().then_some(ops)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy::primitives::{Bytes, aliases::U48};
    use bindings::Checkpoint;
    use common::anchor::{self, AnchorParams};

    fn anchor_tx(number: u64, slots: Vec<B256>) -> TxEnvelope {
        anchor::signed(&AnchorParams {
            chain_id: 167_001,
            nonce: 3,
            base_fee: 7,
            anchor: Address::repeat_byte(0xa1),
            checkpoint: Checkpoint {
                blockNumber: U48::from(number),
                blockHash: B256::repeat_byte(0xab),
                stateRoot: B256::repeat_byte(0x5e),
            },
            signal_slots: slots,
        })
    }

    fn block(txs: Vec<TxEnvelope>) -> L2Block {
        L2Block {
            header: InsertedBlock {
                number: 9,
                hash: B256::repeat_byte(9),
                state_root: B256::repeat_byte(8),
                parent_hash: B256::repeat_byte(7),
            },
            timestamp: 1_700,
            coinbase: Address::repeat_byte(0xc0),
            gas_limit: 31_000_000,
            txs,
        }
    }

    #[test]
    fn a_block_with_its_anchor_comes_back_as_it_was_built() {
        let user_tx = anchor_tx(1, vec![]); // any signed tx will do as a user tx
        let (anchor, rebuilt) = check(
            block(vec![anchor_tx(40, vec![]), user_tx.clone()]),
            100,
            246,
            &[],
        )
        .unwrap();
        assert_eq!(
            anchor,
            L1Anchor {
                number: 40,
                hash: B256::repeat_byte(0xab),
                state_root: B256::repeat_byte(0x5e),
            }
        );
        assert_eq!(rebuilt.manifest.anchor_block_number, 40);
        assert_eq!(
            rebuilt.manifest.gas_limit, 30_000_000,
            "the anchor's share left out"
        );
        assert_eq!(
            rebuilt.manifest.transactions,
            vec![user_tx],
            "the anchor is not a user tx"
        );
        assert_eq!(rebuilt.manifest.timestamp, 1_700);
        assert_eq!(rebuilt.header.number, 9);
        assert_eq!(rebuilt.preconfirmed_at_ms, 1_700_000);
    }

    fn waiting(id: u64, slots: &[u8]) -> ReadyOp {
        let messages = slots
            .iter()
            .map(|n| {
                let mut m = crate::bridge::message::BridgeMessage::new(
                    bindings::Message {
                        id: u64::from(*n),
                        ..Default::default()
                    },
                    Address::ZERO,
                );
                m.slot = SignalSlot(B256::repeat_byte(*n));
                m
            })
            .collect();
        ReadyOp {
            id: common::ids::UserOpId(id),
            op: crate::bridge::status::UserOp {
                submitter: Address::ZERO,
                calldata: Bytes::new(),
            },
            messages,
        }
    }

    #[test]
    fn a_block_with_fast_signals_comes_back_with_the_waiting_ops_that_sent_them() {
        let ready = [waiting(1, &[1]), waiting(2, &[9]), waiting(3, &[2, 3])];
        let slots = vec![
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
        ];
        let (_, rebuilt) = check(block(vec![anchor_tx(40, slots)]), 100, 246, &ready).unwrap();
        let ids: Vec<u64> = rebuilt.user_ops.iter().map(|op| op.id.0).collect();
        assert_eq!(ids, vec![1, 3], "op 2 was not in the block");
        assert_eq!(rebuilt.signal_slots.len(), 3);
        let others = vec![B256::repeat_byte(1), B256::repeat_byte(7)];
        assert_eq!(
            check(block(vec![anchor_tx(40, others)]), 100, 246, &ready).err(),
            Some(StopCause::FastSignals),
            "slots no waiting op sent"
        );
    }

    #[test]
    fn blocks_that_cannot_be_proposed_any_more_stop_the_rebuild_with_their_cause() {
        assert_eq!(
            check(
                block(vec![anchor_tx(40, vec![B256::repeat_byte(1)])]),
                100,
                246,
                &[]
            )
            .err(),
            Some(StopCause::FastSignals)
        );
        assert_eq!(
            check(block(vec![anchor_tx(40, vec![])]), 300, 246, &[]).err(),
            Some(StopCause::AnchorTooOld)
        );
        assert_eq!(
            check(block(vec![]), 100, 246, &[]).err(),
            Some(StopCause::NoAnchor)
        );
        let mut not_an_anchor = anchor_tx(40, vec![]);
        if let TxEnvelope::Eip1559(signed) = &mut not_an_anchor {
            let mut tx = signed.tx().clone();
            tx.input = Bytes::from(vec![1, 2, 3, 4]);
            *signed = alloy::consensus::Signed::new_unchecked(tx, *signed.signature(), B256::ZERO);
        }
        assert_eq!(
            check(block(vec![not_an_anchor]), 100, 246, &[]).err(),
            Some(StopCause::NoAnchor)
        );
        let mut forced = block(vec![anchor_tx(40, vec![])]);
        forced.coinbase = Address::ZERO;
        assert_eq!(
            check(forced, 100, 246, &[]).err(),
            Some(StopCause::ForcedInclusion),
            "an inclusion's block is built again from the queue"
        );
    }
}
