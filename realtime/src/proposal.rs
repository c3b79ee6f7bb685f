//! Proposals under construction: which blocks go together, when a proposal is sealed, and its
//! blob payload. Pure state, no I/O, so every sealing rule is unit-tested.
//!
//! Sealing rules (protocol.md §5 and §7, catalyst-reference §2):
//! - the compressed payload must fit `BLOBS_PER_BATCH` blobs. Each block's RLP is deflated once,
//!   when it joins ([`ManifestStream`]), so the payload's size is exact at every step and sealing
//!   re-compresses nothing. A block that might not fit (worst-case compression) starts the next
//!   proposal;
//! - at most `MAX_BLOCKS_PER_BATCH` blocks;
//! - the anchor block must stay inside L1's `blockhash` window;
//! - a block carrying fast signals must be the first of its proposal (the driver gives only
//!   block 0 the signal list);
//! - consecutive timestamps at most `MAX_TIME_SHIFT_BETWEEN_BLOCKS_SEC` apart.

use alloy::primitives::B256;
use common::{
    codec::{
        manifest::BlockManifest,
        manifest_stream::{DeflatedTxs, EncodedBlock, ManifestStream},
    },
    driver::InsertedBlock,
    ids::{ProposalId, SignalSlot},
};

use crate::{
    bridge::{signals::ReturnSignals, status::ReadyOp},
    config::limits::ProposalLimits,
    forced_inclusion::ForcedSource,
};

/// The L1 block all blocks of a proposal anchor to (`maxAnchorBlockNumber`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Anchor {
    /// L1 block number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its state root.
    pub state_root: B256,
}

/// A block the driver accepted, as its proposal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconfirmedBlock {
    /// What the blob carries for it.
    pub manifest: BlockManifest,
    /// The header the driver returned.
    pub header: InsertedBlock,
    /// Fast signals its anchor carried (only a proposal's first block has any).
    pub signal_slots: Vec<SignalSlot>,
    /// User ops whose L1→L2 messages it processed (only a proposal's first block has any).
    pub user_ops: Vec<ReadyOp>,
    /// Its L2→L1→L2 txs (only a proposal's first block has any).
    pub returns: ReturnSignals,
    /// When the driver inserted it (unix milliseconds): settlement latency starts here.
    pub preconfirmed_at_ms: u64,
    /// The forced inclusion it is the block of (its manifest is not in the proposer's blob).
    pub forced: Option<ForcedSource>,
}

/// Why a proposal was sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealReason {
    /// It holds `MAX_BLOCKS_PER_BATCH` blocks.
    MaxBlocks,
    /// The next block would not fit the blobs.
    PayloadFull,
    /// Its anchor block is about to leave the `blockhash` window.
    AnchorAge,
    /// The next block carries fast signals and must start a proposal.
    FastSignals,
    /// The next block's timestamp is too far from the last one.
    TimeShift,
    /// Its block carries user ops: proposed at once, so users wait for one block only.
    UserOps,
    /// The next L1 slot it can make starts soon (real-time settlement, [`crate::cadence`]).
    Slot,
    /// Blocks taken back after a restart ([`crate::restart`]) change anchor here.
    Rebuilt,
    /// Asked to (shutdown, end of sequencing).
    Requested,
}

/// A proposal that takes no more blocks: what the submitter proves and posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedProposal {
    /// The node's sequence number.
    pub id: ProposalId,
    /// Its anchor.
    pub anchor: L1Anchor,
    /// Its blocks, in chain order.
    pub blocks: Vec<PreconfirmedBlock>,
    /// The union of the blocks' signal slots, in order.
    pub signal_slots: Vec<SignalSlot>,
    /// The user ops its blocks carry, in order.
    pub user_ops: Vec<ReadyOp>,
    /// Its L2→L1→L2 txs and their return signals (all in its first block).
    pub returns: ReturnSignals,
    /// The forced inclusions its first blocks are, in queue order.
    pub forced: Vec<ForcedSource>,
    /// `frame(0x00 ‖ zlib(rlp(manifest)))` of its own blocks, the bytes packed into blobs.
    pub payload: Vec<u8>,
    /// Why it was sealed.
    pub reason: SealReason,
}

impl SealedProposal {
    /// The last block: the proposal's checkpoint.
    pub fn checkpoint(&self) -> Option<&InsertedBlock> {
        self.blocks.last().map(|b| &b.header)
    }
}

struct OpenProposal {
    id: ProposalId,
    anchor: L1Anchor,
    blocks: Vec<PreconfirmedBlock>,
    stream: ManifestStream,
}

/// The open proposal and the rules that seal it.
pub struct Proposals {
    limits: ProposalLimits,
    next_id: u64,
    open: Option<OpenProposal>,
}

impl Proposals {
    /// No open proposal yet; ids start at `first_id`.
    pub fn new(limits: ProposalLimits, first_id: u64) -> Self {
        Self {
            limits,
            next_id: first_id,
            open: None,
        }
    }

    /// The open proposal's anchor, if one is open.
    pub fn open_anchor(&self) -> Option<L1Anchor> {
        self.open.as_ref().map(|o| o.anchor)
    }

    /// Blocks in the open proposal.
    pub fn open_blocks(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.blocks.len())
    }

    /// Forced-inclusion blocks in the open proposal (they come first).
    pub fn open_forced(&self) -> usize {
        self.open.as_ref().map_or(0, |o| {
            o.blocks.iter().filter(|b| b.forced.is_some()).count()
        })
    }

    /// Whether the open proposal holds forced-inclusion blocks only: it seals once it has a
    /// block of its own.
    pub fn awaits_own_block(&self) -> bool {
        self.open_forced() > 0 && self.open_blocks() == self.open_forced()
    }

    /// Gas limit without the anchor of the open proposal's parent, when the proposal starts
    /// with a forced inclusion (whose block has that parent's header limit).
    pub fn open_forced_gas_limit(&self) -> Option<u64> {
        let first = self.open.as_ref()?.blocks.first()?;
        first.forced.as_ref().map(|_| first.manifest.gas_limit)
    }

    /// The queue index after the open proposal's last forced inclusion, if it has any.
    pub fn open_forced_through(&self) -> Option<u64> {
        let open = self.open.as_ref()?;
        let last = open.blocks.iter().rev().find_map(|b| b.forced.as_ref())?;
        Some(last.index + 1)
    }

    /// When the open proposal's first block was preconfirmed (unix ms), if it has one.
    pub fn open_since_ms(&self) -> Option<u64> {
        self.open
            .as_ref()
            .and_then(|o| o.blocks.first())
            .map(|b| b.preconfirmed_at_ms)
    }

    /// Seals the open proposal if a block at `timestamp` (carrying fast signals or not) cannot
    /// join it while the L1 head is `l1_head`.
    pub fn seal_before(
        &mut self,
        l1_head: u64,
        timestamp: u64,
        has_signals: bool,
    ) -> Vec<SealedProposal> {
        let Some(open) = &self.open else {
            return Vec::new();
        };
        let reason = if l1_head.saturating_sub(open.anchor.number) > self.limits.max_anchor_age {
            Some(SealReason::AnchorAge)
        } else if has_signals && !open.blocks.is_empty() {
            Some(SealReason::FastSignals)
        } else if open.blocks.last().is_some_and(|b| {
            timestamp.saturating_sub(b.manifest.timestamp) > self.limits.max_time_shift_sec
        }) {
            Some(SealReason::TimeShift)
        } else {
            None
        };
        match reason {
            Some(reason) => self.seal(reason),
            None => Vec::new(),
        }
    }

    /// Opens a proposal anchored at `anchor` unless one is open.
    pub fn open(&mut self, anchor: L1Anchor) {
        if self.open.is_none() {
            self.open = Some(OpenProposal {
                id: ProposalId(self.next_id),
                anchor,
                blocks: Vec::new(),
                stream: ManifestStream::new(),
            });
            self.next_id += 1;
        }
    }

    /// Adds a preconfirmed block to the open proposal (opened at `anchor` if none is). Returns
    /// the proposals this seals. `txs` is the block's txs as deflated for the driver, if they were.
    pub fn push(
        &mut self,
        anchor: L1Anchor,
        block: PreconfirmedBlock,
        txs: Option<DeflatedTxs>,
    ) -> Vec<SealedProposal> {
        if block.forced.is_some() {
            // Derived from its own blob, not from the proposer's: nothing to seal for.
            self.open(anchor);
            if let Some(open) = self.open.as_mut() {
                open.blocks.push(block);
            }
            return Vec::new();
        }
        let encoded = EncodedBlock::new(&block.manifest, txs);
        let mut sealed = Vec::new();
        if let Some(open) = &self.open
            && self.open_blocks() > self.open_forced()
            && open.stream.payload_len_with(&encoded) > self.limits.max_payload_bytes
        {
            sealed.extend(self.seal(SealReason::PayloadFull));
        }
        self.open(anchor);
        if let Some(open) = self.open.as_mut() {
            open.stream.push(encoded);
            open.blocks.push(block);
        }
        if self.open_blocks() - self.open_forced() >= self.limits.max_blocks {
            sealed.extend(self.seal(SealReason::MaxBlocks));
        }
        sealed
    }

    /// Seals the open proposal, if it has blocks of its own: one holding only forced-inclusion
    /// blocks stays open, since the proposer's source must derive at least one block.
    pub fn seal(&mut self, reason: SealReason) -> Vec<SealedProposal> {
        if self.open_blocks() == self.open_forced() {
            return Vec::new();
        }
        let Some(open) = self.open.take() else {
            return Vec::new();
        };
        let signal_slots = open
            .blocks
            .iter()
            .flat_map(|b| b.signal_slots.iter().copied())
            .collect();
        let user_ops = open
            .blocks
            .iter()
            .flat_map(|b| b.user_ops.iter().cloned())
            .collect();
        let mut returns = ReturnSignals::default();
        for block in &open.blocks {
            returns.extend(&block.returns);
        }
        let forced = open
            .blocks
            .iter()
            .filter_map(|b| b.forced.clone())
            .collect();
        vec![SealedProposal {
            id: open.id,
            forced,
            user_ops,
            returns,
            payload: open.stream.payload(),
            anchor: open.anchor,
            blocks: open.blocks,
            signal_slots,
            reason,
        }]
    }

    /// Forgets the open proposal (its blocks were reorged away).
    pub fn discard_open(&mut self) -> Option<(ProposalId, usize)> {
        self.open.take().map(|o| (o.id, o.blocks.len()))
    }
}
