//! What the node knows about its chains, as published by the chain monitor and read by the
//! health server: per-endpoint reachability and the latest heads.

use std::time::Duration;

use alloy::primitives::B256;
use serde::Serialize;
use tokio::time::Instant;

/// Reachability of one JSON-RPC endpoint.
#[derive(Debug, Clone, Default)]
pub struct EndpointHealth {
    /// The endpoint, redacted for display.
    pub endpoint: String,
    /// Latest block number it returned.
    pub head: Option<u64>,
    /// When it last answered.
    pub last_ok: Option<Instant>,
    /// Failed polls since it last answered.
    pub consecutive_failures: u32,
    /// The latest failure.
    pub last_error: Option<String>,
}

impl EndpointHealth {
    /// A fresh record for `endpoint` that has not been polled yet.
    pub fn new(endpoint: String) -> Self {
        Self {
            endpoint,
            ..Self::default()
        }
    }

    /// Why this endpoint does not count as up at `now`, or `None` if its last poll was answered
    /// and that answer is recent. A failed poll counts at once, so an outage shows within one
    /// poll interval (the heartbeat) instead of after `stale_after`.
    pub fn problem(&self, label: &str, now: Instant, stale_after: Duration) -> Option<String> {
        let error = self
            .last_error
            .as_deref()
            .map(|e| format!("; last error: {e}"))
            .unwrap_or_default();
        match self.last_ok {
            Some(at) if self.consecutive_failures > 0 => Some(format!(
                "{label} endpoint {} failed its last {} polls (answered {} s ago{error})",
                self.endpoint,
                self.consecutive_failures,
                now.duration_since(at).as_secs()
            )),
            Some(at) if now.duration_since(at) <= stale_after => None,
            Some(at) => Some(format!(
                "{label} endpoint {} has not answered for {} s ({} failed polls{error})",
                self.endpoint,
                now.duration_since(at).as_secs(),
                self.consecutive_failures
            )),
            None => Some(format!(
                "{label} endpoint {} has not answered yet ({} failed polls{error})",
                self.endpoint, self.consecutive_failures
            )),
        }
    }

    /// The JSON view of this record at `now`.
    pub fn view(&self, now: Instant) -> EndpointView {
        EndpointView {
            endpoint: self.endpoint.clone(),
            head: self.head,
            seconds_since_answer: self.last_ok.map(|at| now.duration_since(at).as_secs()),
            consecutive_failures: self.consecutive_failures,
            last_error: self.last_error.clone(),
        }
    }
}

/// JSON form of [`EndpointHealth`].
#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    /// The endpoint, redacted.
    pub endpoint: String,
    /// Latest block number.
    pub head: Option<u64>,
    /// Seconds since it last answered.
    pub seconds_since_answer: Option<u64>,
    /// Failed polls since then.
    pub consecutive_failures: u32,
    /// The latest failure.
    pub last_error: Option<String>,
}

/// Where settlement stands: the batch manager publishes what it preconfirmed and its open
/// proposal, the submitter what is proved and on L1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Settlement {
    /// The last L2 block the node preconfirmed.
    pub preconfirmed_head: Option<u64>,
    /// The last L2 block proved and on L1 (the inbox's head, as the submitter saw it land).
    pub settled_head: Option<u64>,
    /// Blocks in the open (not yet sealed) proposal.
    pub open_proposal_blocks: usize,
    /// Time since the open proposal's first block was preconfirmed, ms.
    pub open_proposal_age_ms: Option<u64>,
    /// Whether blocks can be built right now.
    pub production: BlockProduction,
}

/// Whether the batch manager can build blocks: failed ticks in a row and why the last failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlockProduction {
    /// Ticks in a row that could not build the block they meant to (a chain endpoint, the
    /// pool or the driver failed); 0 after a tick that worked.
    pub failed_ticks: u32,
    /// What the last failed tick hit, with its cause label.
    pub last_error: Option<String>,
}

impl BlockProduction {
    /// Why blocks are not being preconfirmed right now, if they are not.
    pub fn problem(&self) -> Option<String> {
        (self.failed_ticks > 0).then(|| {
            format!(
                "blocks: the last {} ticks could not build a block ({}); pending txs wait in the pool and are built once it works again",
                self.failed_ticks,
                self.last_error.as_deref().unwrap_or("unknown")
            )
        })
    }
}

/// The prover as the Prover actor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProverStatus {
    /// Whether it answers (false after transport failures in a row).
    pub up: bool,
    /// Proof jobs in flight.
    pub jobs: usize,
    /// Transport failures in a row.
    pub consecutive_failures: u32,
    /// Seconds since its last answer, if it ever answered.
    pub seconds_since_answer: Option<u64>,
    /// Its last failure.
    pub last_error: Option<String>,
    /// Its last answer refused work (HTTP 429 or 503: over its rate limit or capacity); the
    /// node waits before asking again.
    pub refusing: bool,
}

impl Default for ProverStatus {
    fn default() -> Self {
        Self {
            up: true,
            jobs: 0,
            consecutive_failures: 0,
            seconds_since_answer: None,
            last_error: None,
            refusing: false,
        }
    }
}

impl ProverStatus {
    /// Why the node cannot settle right now, if the prover is why.
    pub fn problem(&self) -> Option<String> {
        let why = if !self.up {
            format!(
                "Raiko did not answer the last {} requests (last error: {})",
                self.consecutive_failures,
                self.last_error.as_deref().unwrap_or("none")
            )
        } else if self.refusing {
            "Raiko refuses requests for now (HTTP 429/503: over its rate limit or capacity)".into()
        } else {
            return None;
        };
        Some(format!(
            "prover: {why}; blocks are still preconfirmed, proposals wait for proofs"
        ))
    }
}

/// Everything the chain monitor publishes.
#[derive(Debug, Clone, Default)]
pub struct ChainStatus {
    /// The L1 endpoint used for reads.
    pub l1: EndpointHealth,
    /// The L2 endpoint.
    pub l2: EndpointHealth,
    /// The latest L2 block the L1 settlement contract considers final, once read.
    pub last_finalized_l2_block_hash: Option<B256>,
    /// Why the finalized L2 head could not be read (the L1 endpoint itself answered).
    pub finality_error: Option<String>,
    /// The inbox's forced-inclusion queue, once read.
    pub forced_inclusions: Option<ForcedInclusionStatus>,
}

/// The inbox's forced-inclusion queue as the chain monitor last read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ForcedInclusionStatus {
    /// Index of the oldest inclusion not consumed yet.
    pub head: u64,
    /// Index the next saved inclusion gets.
    pub tail: u64,
    /// Inclusions waiting (`tail - head`).
    pub queued: u64,
    /// When the oldest waiting inclusion was saved (unix seconds).
    pub oldest_saved_at: Option<u64>,
    /// When it falls due: after that, a proposal that leaves it out reverts.
    pub oldest_due_at: Option<u64>,
    /// Inclusions consumed since the node started watching (by any proposer).
    pub consumed: u64,
    /// Why the queue could not be read on the last poll.
    pub error: Option<String>,
}

impl ForcedInclusionStatus {
    /// Why the node is not doing its job with the queue at `now` (unix seconds): the oldest
    /// inclusion has waited half its delay (it should be consumed by the next proposal). A
    /// queue that cannot be read shows in `error`, as the inbox's other reads do: readiness
    /// guards the deadline.
    pub fn problem(&self, now: u64) -> Option<String> {
        let (saved, due) = (self.oldest_saved_at?, self.oldest_due_at?);
        let half = saved + due.saturating_sub(saved) / 2;
        (now >= half).then(|| {
            format!(
                "forced inclusion {} saved at {saved} is not consumed yet; proposals that leave it out revert from {due} (in {} s)",
                self.head,
                due.saturating_sub(now) as i64 - now.saturating_sub(due) as i64
            )
        })
    }
}

impl ChainStatus {
    /// Reasons the chains are not usable at `now`; empty when both endpoints answered recently.
    pub fn problems(&self, now: Instant, stale_after: Duration) -> Vec<String> {
        let forced = self
            .forced_inclusions
            .as_ref()
            .and_then(|f| f.problem(crate::fork::unix_now()));
        [
            self.l1.problem("L1", now, stale_after),
            self.l2.problem("L2", now, stale_after),
            forced,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prover_that_is_down_or_refusing_work_is_a_problem() {
        let mut prover = ProverStatus::default();
        assert_eq!(prover.problem(), None);
        prover.refusing = true;
        assert!(prover.problem().unwrap().contains("refuses requests"));
        prover.up = false;
        prover.consecutive_failures = 3;
        assert!(
            prover
                .problem()
                .unwrap()
                .contains("did not answer the last 3")
        );
    }

    #[test]
    fn block_production_is_a_problem_from_the_first_failed_tick() {
        let mut production = BlockProduction::default();
        assert_eq!(production.problem(), None);
        production.failed_ticks = 1;
        production.last_error = Some("driver_unavailable: connection refused".into());
        let problem = production.problem().unwrap();
        assert!(problem.starts_with("blocks: the last 1 ticks"), "{problem}");
        assert!(problem.contains("connection refused"), "{problem}");
    }

    #[test]
    fn a_forced_inclusion_is_a_problem_once_it_has_waited_half_its_delay() {
        let status = ForcedInclusionStatus {
            head: 3,
            tail: 4,
            queued: 1,
            oldest_saved_at: Some(1_000),
            oldest_due_at: Some(4_600),
            ..Default::default()
        };
        assert_eq!(status.problem(2_799), None);
        let problem = status.problem(2_800).unwrap();
        assert!(problem.contains("forced inclusion 3"), "{problem}");
        assert!(problem.contains("(in 1800 s)"), "{problem}");
        assert!(status.problem(5_000).unwrap().contains("(in -400 s)"));
        let empty = ForcedInclusionStatus::default();
        assert_eq!(empty.problem(u64::MAX), None);
        let unreadable = ForcedInclusionStatus {
            error: Some("timeout".into()),
            ..Default::default()
        };
        assert_eq!(unreadable.problem(0), None);
    }

    #[test]
    fn an_endpoint_is_up_only_while_its_last_poll_was_answered_recently() {
        let now = Instant::now();
        let mut h = EndpointHealth::new("http://127.0.0.1:1".into());
        h.consecutive_failures = 3;
        h.last_error = Some("connection refused".into());
        let problem = h.problem("L1", now, Duration::from_secs(10)).unwrap();
        assert!(
            problem.contains("L1 endpoint http://127.0.0.1:1 has not answered yet"),
            "{problem}"
        );
        assert!(problem.contains("connection refused"));

        h.last_ok = Some(now);
        let failing = h.problem("L1", now, Duration::from_secs(10)).unwrap();
        assert!(failing.contains("failed its last 3 polls"), "{failing}");
        h.consecutive_failures = 0;
        assert_eq!(h.problem("L1", now, Duration::from_secs(10)), None);
        let later = now + Duration::from_secs(11);
        assert!(
            h.problem("L1", later, Duration::from_secs(10))
                .unwrap()
                .contains("for 11 s")
        );
    }
}
