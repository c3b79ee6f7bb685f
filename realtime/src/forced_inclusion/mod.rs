//! Forced inclusions: the inbox's queue as the node sees it, which inclusion goes next, and
//! what one becomes on L2. What the derivation does with an inclusion is written up, with the
//! files read, in `docs/research/forced-inclusions.md`; the rules the node follows:
//! - an inclusion becomes exactly one L2 block, at the start of a proposal (before any block
//!   of the node's own), in queue order, at most `FI_MAX_PER_PROPOSAL` per proposal;
//! - that block's fee recipient is `0x0`, its timestamp the parent's + 1, its header gas limit
//!   the proposal parent's less 1,000,000 per earlier inclusion (Raiko's realtime guest,
//!   NethermindEth/raiko `lib/src/utils/realtime.rs`), its txs those of the manifest's only
//!   block, or none when the blob does not decode to a one-block manifest.

mod fetch;
pub mod metrics;

use alloy::primitives::{B256, Bytes};
use common::{anchor::ANCHOR_GAS_LIMIT, codec::manifest::DerivationSourceManifest};
use serde::{Deserialize, Serialize};

pub use fetch::{FetchError, Keys, fetch_blob, open, read_queue};

/// One waiting inclusion, as the inbox stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedInclusion {
    /// Its index in the queue.
    pub index: u64,
    /// The fee paid (gwei), which the proposer consuming it receives.
    pub fee_gwei: u64,
    /// Versioned hash of its one blob.
    pub blob_hash: B256,
    /// Where its payload starts in the blob.
    pub offset: u32,
    /// When it was saved (unix seconds): it is due `delay` later, and the proof commits to it.
    pub saved_at: u64,
}

/// The inbox's queue: `head..tail` wait, `entries` are the first of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForcedQueue {
    /// Index of the oldest waiting inclusion.
    pub head: u64,
    /// Index the next saved one gets.
    pub tail: u64,
    /// `forcedInclusionDelay` (seconds).
    pub delay_sec: u64,
    /// Waiting inclusions from `head` on (at most [`READ_AHEAD`]).
    pub entries: Vec<QueuedInclusion>,
}

/// How many waiting inclusions are read per poll: a proposal takes at most a few.
pub const READ_AHEAD: u64 = 16;

impl ForcedQueue {
    /// When the oldest waiting inclusion falls due.
    pub fn oldest_due_at(&self) -> Option<u64> {
        self.entries.first().map(|e| e.saved_at + self.delay_sec)
    }

    /// The waiting inclusion at `index`, if it was read.
    pub fn at(&self, index: u64) -> Option<&QueuedInclusion> {
        index
            .checked_sub(self.head)
            .and_then(|i| self.entries.get(i as usize))
    }
}

/// What the open proposal holds, for choosing the next inclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenProposal {
    /// Its inclusion blocks.
    pub forced: u64,
    /// Its blocks of the node's own.
    pub own: u64,
    /// The queue index after its last inclusion, if it has any.
    pub forced_through: Option<u64>,
}

/// The queue index the next block must include, if any: inclusions go only at the start of a
/// proposal (none once it has a block of its own), at most `max` per proposal, and after those
/// already taken by the open proposal and the unlanded sealed ones (`sealed_through`).
pub fn next_index(
    queue: &ForcedQueue,
    open: OpenProposal,
    sealed_through: Option<u64>,
    max: u64,
) -> Option<u64> {
    if open.own > 0 || open.forced >= max {
        return None;
    }
    let next = [Some(queue.head), open.forced_through, sealed_through]
        .into_iter()
        .flatten()
        .max()?;
    (next < queue.tail).then_some(next)
}

/// What a proposal carries for one inclusion it consumes: its source as the inbox hashes it,
/// and its blob, which the proof request must include.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForcedSource {
    /// Its queue index.
    pub index: u64,
    /// Versioned hash of its blob.
    pub blob_hash: B256,
    /// Payload offset in the blob.
    pub offset: u32,
    /// When it was saved (the slice timestamp the inbox stored).
    pub saved_at: u64,
    /// The blob (131072 bytes).
    pub blob: Bytes,
    /// Whether its blob decoded to a one-block manifest (else its block is empty).
    pub valid: bool,
}

/// Header gas limit of the `i`-th inclusion block of a proposal, built on `parent` (the
/// proposal's parent when `i` is 0, else inclusion block `i - 1`). Raiko takes 1,000,000 off
/// the previous block's limit without the anchor for every inclusion; a proposal on genesis
/// (whose limit has no anchor share) gives every inclusion block genesis' limit + 1,000,000.
pub fn block_gas_limit(parent_number: u64, parent_gas_limit: u64, i: u64) -> u64 {
    let on_genesis = parent_number == i;
    match (i, on_genesis) {
        (0, true) => parent_gas_limit + ANCHOR_GAS_LIMIT,
        (0, false) | (_, true) => parent_gas_limit,
        (_, false) => parent_gas_limit.saturating_sub(ANCHOR_GAS_LIMIT),
    }
}

/// The txs of an inclusion's block: those of its manifest's only block, or none when the
/// manifest is not exactly one block or holds a blob tx (then `valid` is false).
pub fn block_txs(
    manifest: Option<DerivationSourceManifest>,
) -> (Vec<alloy::consensus::TxEnvelope>, bool) {
    match manifest {
        // Raiko's tx type has no blob variant: a blob tx makes the whole manifest invalid.
        Some(m)
            if m.blocks.len() == 1 && !m.blocks[0].transactions.iter().any(|t| t.is_eip4844()) =>
        {
            let block = m.blocks.into_iter().next().map(|b| b.transactions);
            (block.unwrap_or_default(), true)
        }
        _ => (Vec::new(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::codec::manifest::BlockManifest;

    fn entry(index: u64) -> QueuedInclusion {
        QueuedInclusion {
            index,
            fee_gwei: 10,
            blob_hash: B256::repeat_byte(index as u8),
            offset: 0,
            saved_at: 1_000 + index,
        }
    }

    #[test]
    fn entries_are_found_by_queue_index_and_the_oldest_sets_the_deadline() {
        let queue = ForcedQueue {
            head: 5,
            tail: 7,
            delay_sec: 3_600,
            entries: vec![entry(5), entry(6)],
        };
        assert_eq!(queue.at(4), None);
        assert_eq!(queue.at(6), Some(&entry(6)));
        assert_eq!(queue.at(7), None);
        assert_eq!(queue.oldest_due_at(), Some(4_605));
        assert_eq!(ForcedQueue::default().oldest_due_at(), None);
    }

    #[test]
    fn the_next_inclusion_follows_those_taken_and_only_opens_a_proposal() {
        let queue = ForcedQueue {
            head: 5,
            tail: 8,
            delay_sec: 3_600,
            entries: vec![entry(5), entry(6), entry(7)],
        };
        let fresh = OpenProposal::default();
        assert_eq!(next_index(&queue, fresh, None, 4), Some(5));
        // Taken by an unlanded proposal, then by the open one.
        assert_eq!(next_index(&queue, fresh, Some(7), 4), Some(7));
        let open = OpenProposal {
            forced: 1,
            own: 0,
            forced_through: Some(6),
        };
        assert_eq!(next_index(&queue, open, None, 4), Some(6));
        assert_eq!(next_index(&queue, open, None, 1), None, "at most max");
        let own = OpenProposal { own: 1, ..open };
        assert_eq!(next_index(&queue, own, None, 4), None, "only at the start");
        assert_eq!(next_index(&queue, fresh, Some(8), 4), None, "all taken");
        // The inbox's head passed what we took (consumed by someone else).
        assert_eq!(next_index(&queue, fresh, Some(3), 4), Some(5));
    }

    #[test]
    fn each_inclusion_block_takes_a_million_gas_off_as_raiko_derives_it() {
        // Proposal parent 10 with 31M: inclusion blocks 11, 12, 13 get 31M, 30M, 29M.
        let first = block_gas_limit(10, 31_000_000, 0);
        let second = block_gas_limit(11, first, 1);
        let third = block_gas_limit(12, second, 2);
        assert_eq!((first, second, third), (31_000_000, 30_000_000, 29_000_000));
        // On genesis (30M, no anchor share): every one gets 31M.
        let first = block_gas_limit(0, 30_000_000, 0);
        let second = block_gas_limit(1, first, 1);
        assert_eq!((first, second), (31_000_000, 31_000_000));
    }

    #[test]
    fn only_a_one_block_manifest_gives_txs() {
        let block = BlockManifest {
            timestamp: 0,
            coinbase: Default::default(),
            anchor_block_number: 0,
            gas_limit: 0,
            transactions: vec![],
        };
        let one = DerivationSourceManifest {
            blocks: vec![block.clone()],
        };
        assert_eq!(block_txs(Some(one)), (vec![], true));
        let two = DerivationSourceManifest {
            blocks: vec![block.clone(), block],
        };
        assert_eq!(block_txs(Some(two)), (vec![], false));
        assert_eq!(block_txs(None), (vec![], false));
    }
}
