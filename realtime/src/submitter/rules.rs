//! The submitter's decisions as pure functions: what a failed proof leads to, and when a resync
//! with the inbox may start.

/// A resync: after a failure or an L1 reorg, what landed is re-read from the inbox and the L2
/// rolled back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resync {
    /// In step with the inbox.
    No,
    /// Due once no tx is in flight.
    Wanted,
    /// The inbox head is being read.
    Reading,
}

/// What the pipeline does about the resync state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResyncStep {
    /// No resync: prove and send as usual.
    Proceed,
    /// Start reading the inbox head now (nothing is being sent).
    Start,
    /// Wait: a tx is in flight (its outcome decides what landed) or the head is being read.
    Wait,
}

/// Where the pipeline stands on a resync, given whether a proposal's tx is being sent.
pub(super) fn resync_step(resync: Resync, sending: bool) -> ResyncStep {
    match (resync, sending) {
        (Resync::No, _) => ResyncStep::Proceed,
        (Resync::Wanted, false) => ResyncStep::Start,
        (Resync::Wanted, true) | (Resync::Reading, _) => ResyncStep::Wait,
    }
}

/// What a failed proof leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterProofFailure {
    /// The failure says nothing about the proposal (the L2 did not answer): try again after a
    /// pause, without spending an attempt.
    Pause,
    /// Ask for the proof again.
    Again,
    /// Out of attempts: abandon this proposal and every later one.
    Abandon,
}

/// The decision after attempt `attempt` (from 1) of at most `max` failed; `counts` is whether
/// the failure counts against the attempts.
pub(super) fn after_proof_failure(attempt: u32, max: u32, counts: bool) -> AfterProofFailure {
    if !counts {
        AfterProofFailure::Pause
    } else if attempt < max {
        AfterProofFailure::Again
    } else {
        AfterProofFailure::Abandon
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resync_waits_while_a_tx_is_sending_and_while_the_head_is_read() {
        assert_eq!(resync_step(Resync::No, true), ResyncStep::Proceed);
        assert_eq!(resync_step(Resync::No, false), ResyncStep::Proceed);
        assert_eq!(resync_step(Resync::Wanted, true), ResyncStep::Wait);
        assert_eq!(resync_step(Resync::Wanted, false), ResyncStep::Start);
        assert_eq!(resync_step(Resync::Reading, false), ResyncStep::Wait);
        assert_eq!(resync_step(Resync::Reading, true), ResyncStep::Wait);
    }

    #[test]
    fn a_proof_that_fails_n_times_abandons_from_its_proposal() {
        let max = 3;
        let decisions: Vec<_> = (1..=max)
            .map(|attempt| after_proof_failure(attempt, max, true))
            .collect();
        assert_eq!(
            decisions,
            vec![
                AfterProofFailure::Again,
                AfterProofFailure::Again,
                AfterProofFailure::Abandon
            ]
        );
        // An L2 that did not answer never uses up the attempts.
        assert_eq!(
            after_proof_failure(max, max, false),
            AfterProofFailure::Pause
        );
        assert_eq!(after_proof_failure(1, 1, true), AfterProofFailure::Abandon);
    }
}
