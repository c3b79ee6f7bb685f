//! Limits of proposals and blocks (leaf module: the proposal model and the block policy use it).

/// Limits of one proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProposalLimits {
    /// Blob payload bytes (frame and scheme included).
    pub max_payload_bytes: usize,
    /// Blocks.
    pub max_blocks: usize,
    /// Largest gap between consecutive block timestamps.
    pub max_time_shift_sec: u64,
    /// Largest `L1 head − anchor` before the proposal must be sealed.
    pub max_anchor_age: u64,
}

/// When a block is worth building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockPolicy {
    /// Pending txs that trigger a block.
    pub min_txs: u64,
    /// Idle heartbeats after which any pending tx triggers a block.
    pub max_skipped_slots: u64,
    /// Largest timestamp gap between consecutive blocks.
    pub max_time_shift_sec: u64,
    /// L1 slot length (the empty-block deadline leaves one slot of margin).
    pub l1_slot_sec: u64,
}
