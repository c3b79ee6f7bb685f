//! When the open proposal is sealed on the L1 slot clock, for real-time settlement: a
//! proposal that holds preconfirmed blocks is sealed at the last heartbeat that still lets its
//! proof and its tx make the next L1 slot they can make (`PROPOSAL_SEAL_LEAD_MS` before that
//! slot starts). That is one proposal per L1 slot, since only one of the proposer's proposals
//! lands per L1 block: sealing more often would only queue them. For the same reason a seal is
//! put off while the proposals already sealed fill the slots this one would need (a slow proof
//! or a busy L1): the open proposal takes the blocks of the slots it waits, and the queue never
//! grows. Blocks keep coming every heartbeat meanwhile; the size, anchor-age and fast-signal
//! rules still seal earlier.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::slot_clock::SlotClock;

/// The sealing cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// The L1 slot clock.
    pub clock: SlotClock,
    /// How long before a slot starts its proposal must be sealed.
    pub lead: Duration,
    /// Time between heartbeats.
    pub heartbeat: Duration,
}

impl Cadence {
    /// The index of the first L1 slot a proposal sealed at `at` can make.
    pub fn target_slot(&self, at: SystemTime) -> u64 {
        let ready = (at + self.lead)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let genesis = u128::from(self.clock.genesis_time) * 1_000_000_000;
        let slot = self.clock.slot.as_nanos().max(1);
        let since = ready.saturating_sub(genesis);
        u64::try_from(since.div_ceil(slot)).unwrap_or(u64::MAX)
    }

    /// Whether a proposal with blocks must be sealed at a heartbeat at `now`: waiting for the
    /// next heartbeat would miss the slot this one still makes.
    pub fn due(&self, now: SystemTime) -> bool {
        self.target_slot(now) < self.target_slot(now + self.heartbeat)
    }

    /// Most sealed proposals not on L1 yet that still leave a slot for a new one: the one
    /// landing now, and those whose proofs (`lead`) overlap.
    pub fn max_unlanded(&self) -> usize {
        let slot = self.clock.slot.as_nanos().max(1);
        usize::try_from(self.lead.as_nanos().div_ceil(slot)).unwrap_or(usize::MAX) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cadence(slot: u64, lead_ms: u64, heartbeat_ms: u64) -> Cadence {
        Cadence {
            clock: SlotClock {
                genesis_time: 1_000,
                slot: Duration::from_secs(slot),
            },
            lead: Duration::from_millis(lead_ms),
            heartbeat: Duration::from_millis(heartbeat_ms),
        }
    }

    fn at(ms_after_genesis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000) + Duration::from_millis(ms_after_genesis)
    }

    #[test]
    fn one_seal_per_slot_at_the_last_heartbeat_that_makes_it() {
        // 12 s slots, 2 s heartbeats aligned on slot starts, proofs need 1 s.
        let c = cadence(12, 1_000, 2_000);
        let due: Vec<u64> = (0..36_000)
            .step_by(2_000)
            .filter(|&ms| c.due(at(ms)))
            .collect();
        assert_eq!(
            due,
            vec![10_000, 22_000, 34_000],
            "one per slot, 2 s before it"
        );
        // A tick a few ms late (a busy machine) still seals in time for the same slot.
        assert!(c.due(at(10_030)));
        assert_eq!(c.target_slot(at(10_030)), 1);
    }

    #[test]
    fn a_long_proof_targets_a_later_slot_still_once_per_slot() {
        // Proofs take 15 s: a proposal sealed now makes the slot after next.
        let c = cadence(12, 15_000, 2_000);
        let due: Vec<u64> = (0..48_000)
            .step_by(2_000)
            .filter(|&ms| c.due(at(ms)))
            .collect();
        assert_eq!(due, vec![8_000, 20_000, 32_000, 44_000]);
        assert_eq!(c.target_slot(at(8_000)), 2);
    }

    #[test]
    fn the_queue_ahead_of_a_new_proposal_is_bounded_by_the_proof_time() {
        assert_eq!(cadence(12, 1_000, 2_000).max_unlanded(), 2);
        assert_eq!(cadence(12, 15_000, 2_000).max_unlanded(), 3);
        assert_eq!(cadence(2, 2_000, 2_000).max_unlanded(), 2);
        assert_eq!(cadence(2, 0, 2_000).max_unlanded(), 1);
    }

    #[test]
    fn heartbeats_as_long_as_a_slot_seal_every_heartbeat() {
        // The devnet: 2 s L1 slots, 2 s heartbeats.
        let c = cadence(2, 2_000, 2_000);
        assert!((0..20_000).step_by(2_000).all(|ms| c.due(at(ms + 7))));
    }
}
