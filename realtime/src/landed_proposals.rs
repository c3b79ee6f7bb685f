//! Which proposals have landed on L1, kept right across L1 reorgs. Pure state fed with the
//! inbox's `ProposedAndProved` logs, either as re-scans of a block range (polling: a log that
//! is no longer in its range was reorged away) or one by one from a subscription (which marks
//! removed logs itself). Every change comes out as a [`ProposalEvent`] exactly once.

use std::collections::{BTreeMap, btree_map::Entry};

use alloy::{
    eips::BlockNumHash,
    primitives::{B256, Log as PrimitiveLog},
    rpc::types::Log,
    sol_types::SolEvent,
};
use bindings::IRealTimeInbox::ProposedAndProved;

/// How deep an L1 reorg is expected to reach: landed proposals are tracked (and the polling
/// re-scan reaches back) this many blocks.
pub const REORG_WINDOW: u64 = 64;

/// A proposal as its `ProposedAndProved` log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedProposal {
    /// The inbox's proposal hash.
    pub proposal_hash: B256,
    /// The finalized L2 block hash the proposal built on.
    pub last_finalized_block_hash: B256,
    /// The L2 checkpoint it proved.
    pub checkpoint: BlockNumHash,
    /// The L1 block that holds it.
    pub l1_block: BlockNumHash,
    /// The L1 tx.
    pub tx_hash: B256,
    /// Position of the log in its block.
    pub log_index: u64,
}

/// A change in what has landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalEvent {
    /// A proposal's log appeared in a canonical L1 block.
    Landed(LandedProposal),
    /// A log reported as landed is gone: its L1 block was reorged out.
    Reorged(LandedProposal),
}

/// Why a log was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// A pending log (no block) or one without a position.
    #[error("log without block number, block hash, tx hash or index")]
    Incomplete,
    /// Not a `ProposedAndProved` log.
    #[error("not a ProposedAndProved log: {0}")]
    Decode(String),
}

/// Decodes an inbox log.
pub fn decode(log: &Log) -> Result<LandedProposal, LogError> {
    let (Some(number), Some(hash), Some(tx_hash), Some(index)) = (
        log.block_number,
        log.block_hash,
        log.transaction_hash,
        log.log_index,
    ) else {
        return Err(LogError::Incomplete);
    };
    let inner: &PrimitiveLog = &log.inner;
    let event =
        ProposedAndProved::decode_log(inner).map_err(|e| LogError::Decode(e.to_string()))?;
    Ok(LandedProposal {
        proposal_hash: event.proposalHash,
        last_finalized_block_hash: event.lastFinalizedBlockHash,
        checkpoint: BlockNumHash {
            number: event.checkpoint.blockNumber.to::<u64>(),
            hash: event.checkpoint.blockHash,
        },
        l1_block: BlockNumHash { number, hash },
        tx_hash,
        log_index: index,
    })
}

/// Key of a log: a log in a re-mined block is a different log.
type LogKey = (u64, B256, u64);

fn key(p: &LandedProposal) -> LogKey {
    (p.l1_block.number, p.l1_block.hash, p.log_index)
}

/// The landed proposals of the last [`REORG_WINDOW`] L1 blocks.
#[derive(Debug, Default)]
pub struct LandedProposals {
    logs: BTreeMap<LogKey, LandedProposal>,
}

impl LandedProposals {
    /// Nothing landed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Proposals currently known to have landed, oldest first.
    pub fn landed(&self) -> impl Iterator<Item = &LandedProposal> {
        self.logs.values()
    }

    /// The complete set of logs of L1 blocks `from..=to` as now canonical: logs no longer
    /// there were reorged away, new ones landed.
    pub fn rescan(&mut self, from: u64, to: u64, logs: Vec<LandedProposal>) -> Vec<ProposalEvent> {
        let mut events = Vec::new();
        let fresh: BTreeMap<LogKey, LandedProposal> = logs
            .into_iter()
            .filter(|p| (from..=to).contains(&p.l1_block.number))
            .map(|p| (key(&p), p))
            .collect();
        let gone: Vec<LogKey> = self
            .logs
            .range((from, B256::ZERO, 0)..)
            .filter(|(k, _)| k.0 <= to && !fresh.contains_key(k))
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            if let Some(p) = self.logs.remove(&k) {
                events.push(ProposalEvent::Reorged(p));
            }
        }
        for (k, p) in fresh {
            if let Entry::Vacant(slot) = self.logs.entry(k) {
                slot.insert(p.clone());
                events.push(ProposalEvent::Landed(p));
            }
        }
        self.prune(to);
        events
    }

    /// One log from a subscription; `removed` is the node's reorg flag.
    pub fn streamed(&mut self, proposal: LandedProposal, removed: bool) -> Option<ProposalEvent> {
        let k = key(&proposal);
        let block = proposal.l1_block.number;
        let event = if removed {
            self.logs.remove(&k).map(ProposalEvent::Reorged)
        } else if let Entry::Vacant(slot) = self.logs.entry(k) {
            slot.insert(proposal.clone());
            Some(ProposalEvent::Landed(proposal))
        } else {
            None
        };
        self.prune(block);
        event
    }

    fn prune(&mut self, head: u64) {
        let keep_from = head.saturating_sub(REORG_WINDOW);
        self.logs = self.logs.split_off(&(keep_from, B256::ZERO, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn landed(number: u64, fork: u8, index: u64) -> LandedProposal {
        LandedProposal {
            proposal_hash: B256::with_last_byte(number as u8),
            last_finalized_block_hash: B256::ZERO,
            checkpoint: BlockNumHash {
                number: number * 10,
                hash: B256::repeat_byte(3),
            },
            l1_block: BlockNumHash {
                number,
                hash: B256::repeat_byte(fork),
            },
            tx_hash: B256::repeat_byte(9),
            log_index: index,
        }
    }

    #[test]
    fn rescans_report_each_log_once_and_reorged_ones_as_gone() {
        let mut t = LandedProposals::new();
        let a = landed(10, 1, 0);
        let b = landed(12, 1, 3);
        assert_eq!(
            t.rescan(1, 12, vec![a.clone(), b.clone()]),
            vec![
                ProposalEvent::Landed(a.clone()),
                ProposalEvent::Landed(b.clone())
            ]
        );
        // The same range again: nothing new.
        assert!(t.rescan(1, 12, vec![a.clone(), b.clone()]).is_empty());
        // Block 12 was re-mined without the log, and a new one is in block 13.
        let c = landed(13, 2, 0);
        assert_eq!(
            t.rescan(11, 13, vec![c.clone()]),
            vec![ProposalEvent::Reorged(b), ProposalEvent::Landed(c.clone())]
        );
        // A log outside the range is left alone.
        assert_eq!(t.landed().cloned().collect::<Vec<_>>(), vec![a, c]);
    }

    #[test]
    fn the_same_proposal_in_a_re_mined_block_is_reorged_then_landed() {
        let mut t = LandedProposals::new();
        let old = landed(20, 1, 0);
        let new = landed(20, 2, 0);
        t.rescan(20, 20, vec![old.clone()]);
        assert_eq!(
            t.rescan(15, 21, vec![new.clone()]),
            vec![ProposalEvent::Reorged(old), ProposalEvent::Landed(new)]
        );
    }

    #[test]
    fn streamed_logs_honour_the_removed_flag_and_duplicates() {
        let mut t = LandedProposals::new();
        let a = landed(30, 1, 1);
        assert_eq!(
            t.streamed(a.clone(), false),
            Some(ProposalEvent::Landed(a.clone()))
        );
        assert_eq!(t.streamed(a.clone(), false), None);
        assert_eq!(
            t.streamed(a.clone(), true),
            Some(ProposalEvent::Reorged(a.clone()))
        );
        // A removal of something never reported is not an event.
        assert_eq!(t.streamed(a, true), None);
    }

    #[test]
    fn logs_older_than_the_window_are_forgotten() {
        let mut t = LandedProposals::new();
        t.rescan(1, 1, vec![landed(1, 1, 0)]);
        t.rescan(2, 1 + REORG_WINDOW + 1, vec![]);
        assert_eq!(t.landed().count(), 0);
    }

    #[test]
    fn a_real_log_decodes() {
        use alloy::primitives::{Address, LogData, aliases::U48};
        use bindings::{Checkpoint, IRealTimeInbox};
        let event = IRealTimeInbox::ProposedAndProved {
            proposalHash: B256::repeat_byte(1),
            lastFinalizedBlockHash: B256::repeat_byte(2),
            maxAnchorBlockNumber: U48::from(7),
            basefeeSharingPctg: 75,
            sources: vec![],
            signalSlots: vec![],
            checkpoint: Checkpoint {
                blockNumber: U48::from(42),
                blockHash: B256::repeat_byte(4),
                stateRoot: B256::repeat_byte(5),
            },
        };
        let data: LogData = event.encode_log_data();
        let log = Log {
            inner: PrimitiveLog {
                address: Address::repeat_byte(0xaa),
                data,
            },
            block_hash: Some(B256::repeat_byte(6)),
            block_number: Some(100),
            transaction_hash: Some(B256::repeat_byte(7)),
            log_index: Some(2),
            ..Default::default()
        };
        let p = decode(&log).unwrap();
        assert_eq!(p.proposal_hash, B256::repeat_byte(1));
        assert_eq!(p.last_finalized_block_hash, B256::repeat_byte(2));
        assert_eq!(p.checkpoint, BlockNumHash::new(42, B256::repeat_byte(4)));
        assert_eq!(p.l1_block, BlockNumHash::new(100, B256::repeat_byte(6)));
        assert_eq!(
            decode(&Log {
                block_number: None,
                ..log
            }),
            Err(LogError::Incomplete)
        );
    }
}
