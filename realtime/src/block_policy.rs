//! When a heartbeat builds a block (catalyst-reference §2 "When a block is built").

use crate::config::limits::BlockPolicy;

/// What the policy looks at on one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickView {
    /// Txs the pool offers for the next block.
    pub pending_txs: usize,
    /// The next block's timestamp (this tick's time, seconds).
    pub timestamp: u64,
    /// The L2 head's timestamp.
    pub head_timestamp: u64,
    /// Ticks since the last block the node built (or since start).
    pub idle_ticks: u64,
    /// Whether a proposal is open.
    pub proposal_open: bool,
    /// Whether the block must carry node-made content (fast signals, bridge messages).
    pub has_node_content: bool,
}

/// The tick's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Build a block, for this reason.
    Build(BuildReason),
    /// Wait for a later tick.
    Wait(WaitReason),
}

/// Why a block is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildReason {
    /// At least `PRECONF_MIN_TXS` txs are pending.
    EnoughTxs,
    /// Txs have waited more than `PRECONF_MAX_SKIPPED_L2_SLOTS` heartbeats.
    WaitedLongEnough,
    /// No proposal is open, so nothing is gained by batching.
    NoOpenProposal,
    /// The node has its own content to land (user ops, fast signals).
    NodeContent,
    /// Without a block now, the time shift between blocks would exceed its limit.
    TimeShift,
}

/// Why no block is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The head already has this timestamp (blocks need increasing timestamps).
    SameTimestamp,
    /// Nothing to include.
    NothingPending,
    /// Too few txs, not waited long enough.
    Batching,
}

/// Applies the policy.
pub fn decide(policy: &BlockPolicy, view: &TickView) -> Decision {
    if view.timestamp <= view.head_timestamp {
        return Decision::Wait(WaitReason::SameTimestamp);
    }
    let gap = view.timestamp - view.head_timestamp;
    if gap
        >= policy
            .max_time_shift_sec
            .saturating_sub(policy.l1_slot_sec)
            .max(1)
    {
        return Decision::Build(BuildReason::TimeShift);
    }
    if view.has_node_content {
        return Decision::Build(BuildReason::NodeContent);
    }
    if view.pending_txs == 0 {
        return Decision::Wait(WaitReason::NothingPending);
    }
    if view.pending_txs as u64 >= policy.min_txs {
        Decision::Build(BuildReason::EnoughTxs)
    } else if !view.proposal_open {
        Decision::Build(BuildReason::NoOpenProposal)
    } else if view.idle_ticks.saturating_sub(1) > policy.max_skipped_slots {
        Decision::Build(BuildReason::WaitedLongEnough)
    } else {
        Decision::Wait(WaitReason::Batching)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: BlockPolicy = BlockPolicy {
        min_txs: 3,
        max_skipped_slots: 2,
        max_time_shift_sec: 255,
        l1_slot_sec: 12,
    };

    fn view(pending_txs: usize, idle_ticks: u64) -> TickView {
        TickView {
            pending_txs,
            timestamp: 1_010,
            head_timestamp: 1_000,
            idle_ticks,
            proposal_open: true,
            has_node_content: false,
        }
    }

    #[test]
    fn batches_until_enough_txs_or_enough_waiting() {
        assert_eq!(
            decide(&POLICY, &view(3, 1)),
            Decision::Build(BuildReason::EnoughTxs)
        );
        assert_eq!(
            decide(&POLICY, &view(1, 3)),
            Decision::Wait(WaitReason::Batching)
        );
        // Three skipped slots (> 2) after the last block.
        assert_eq!(
            decide(&POLICY, &view(1, 4)),
            Decision::Build(BuildReason::WaitedLongEnough)
        );
        assert_eq!(
            decide(&POLICY, &view(0, 100)),
            Decision::Wait(WaitReason::NothingPending)
        );
        let first = TickView {
            proposal_open: false,
            ..view(1, 0)
        };
        assert_eq!(
            decide(&POLICY, &first),
            Decision::Build(BuildReason::NoOpenProposal)
        );
        let content = TickView {
            has_node_content: true,
            ..view(0, 0)
        };
        assert_eq!(
            decide(&POLICY, &content),
            Decision::Build(BuildReason::NodeContent)
        );
    }

    #[test]
    fn time_shift_forces_an_empty_block_and_same_second_waits() {
        let late = TickView {
            timestamp: 1_000 + 243,
            ..view(0, 0)
        };
        assert_eq!(
            decide(&POLICY, &late),
            Decision::Build(BuildReason::TimeShift)
        );
        let early = TickView {
            timestamp: 1_000 + 242,
            ..view(0, 0)
        };
        assert_eq!(
            decide(&POLICY, &early),
            Decision::Wait(WaitReason::NothingPending)
        );
        let same = TickView {
            timestamp: 1_000,
            ..view(10, 10)
        };
        assert_eq!(
            decide(&POLICY, &same),
            Decision::Wait(WaitReason::SameTimestamp)
        );
    }
}
