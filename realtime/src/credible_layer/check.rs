//! One block's check against the sidecar, without I/O: which txs to send and in what order,
//! what to roll back when a tx fails an assertion, and what the block keeps.
//!
//! Every candidate is sent at once (index 0, 1, … each naming its predecessor's hash, as the
//! sidecar's sequencing requires), so the sidecar runs them back to back. Once every verdict of
//! a round is in, the first user tx that failed an assertion is dropped with its sender's later
//! txs; the sidecar's fork is rolled back from its tail to that tx (a `ReorgEvent` may only
//! remove the newest executed txs) and the survivors are sent again, re-indexed. At the end the
//! fork is exactly the block's tx list, so the CommitHead checks pass.

use std::collections::HashMap;

use alloy::primitives::{Address, B256};
use common::credible_layer::wire::ResultStatus;

/// A tx of the block being built, in block order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Its hash.
    pub hash: B256,
    /// Who signed it.
    pub sender: Address,
    /// The node made it (anchor, processMessage): always kept, whatever its verdict.
    pub node_made: bool,
}

/// An event the check asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// `Transaction` for candidate `candidate` at `index`, after the tx `prev`.
    Tx {
        /// Position in the candidates.
        candidate: usize,
        /// Position in the sidecar's fork.
        index: u64,
        /// The previous tx's hash (none for index 0).
        prev: Option<B256>,
    },
    /// `ReorgEvent` removing `hashes` (oldest first), the newest of which sits at `index`.
    Reorg {
        /// Index of the newest removed tx.
        index: u64,
        /// The removed txs, oldest first.
        hashes: Vec<B256>,
    },
}

/// Why a block went ahead without the sidecar's full judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOpen {
    /// The sidecar is not connected.
    Disconnected,
    /// The block's time budget ran out.
    Timeout,
    /// The sidecar could not run a tx (FAILED): its fork no longer follows the block.
    Diverged,
    /// The stream to the sidecar broke during the check.
    StreamLost,
    /// The client was gone or restarting.
    Unavailable,
}

impl FailOpen {
    /// Label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            FailOpen::Disconnected => "disconnected",
            FailOpen::Timeout => "timeout",
            FailOpen::Diverged => "diverged",
            FailOpen::StreamLost => "stream_lost",
            FailOpen::Unavailable => "unavailable",
        }
    }
}

/// What the block does with its candidates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judgement {
    /// Failed an assertion: left out.
    pub dropped: Vec<B256>,
    /// Cannot run without a dropped or held tx (same sender, later): left out, not judged.
    pub deferred: Vec<B256>,
    /// Set when the block was not fully judged; everything else is included.
    pub fail_open: Option<FailOpen>,
}

/// What the check does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Send these, then wait for their verdicts.
    Send(Vec<Outgoing>),
    /// Wait for more verdicts.
    Wait,
    /// Finished.
    Done(Judgement),
}

/// A block's check in progress.
#[derive(Debug, Clone)]
pub struct BlockCheck {
    candidates: Vec<Candidate>,
    /// The candidates in the sidecar's fork, in order: position = index.
    fork: Vec<usize>,
    /// Positions from here on wait for verdicts.
    round_start: usize,
    verdicts: HashMap<usize, ResultStatus>,
    judgement: Judgement,
}

impl BlockCheck {
    /// Starts a check; `held(hash)` says a tx was dropped recently and is not sent again yet
    /// (it and its sender's later txs are deferred).
    pub fn start(candidates: Vec<Candidate>, held: impl Fn(&B256) -> bool) -> (Self, Progress) {
        let mut check = Self {
            candidates,
            fork: Vec::new(),
            round_start: 0,
            verdicts: HashMap::new(),
            judgement: Judgement::default(),
        };
        let mut blocked: Vec<Address> = Vec::new();
        let mut send = Vec::new();
        for (i, c) in check.candidates.iter().enumerate() {
            if !c.node_made && (blocked.contains(&c.sender) || held(&c.hash)) {
                blocked.push(c.sender);
                check.judgement.deferred.push(c.hash);
            } else {
                send.push(i);
            }
        }
        let out = check.send_round(0, send);
        let progress = if out.is_empty() {
            Progress::Done(check.judgement.clone())
        } else {
            Progress::Send(out)
        };
        (check, progress)
    }

    /// Makes `send` the fork's txs from position `from` on; what to send for them.
    fn send_round(&mut self, from: usize, send: Vec<usize>) -> Vec<Outgoing> {
        self.fork.truncate(from);
        self.round_start = from;
        self.verdicts.retain(|position, _| *position < from);
        let mut out = Vec::with_capacity(send.len());
        for candidate in send {
            let index = self.fork.len();
            let prev = index
                .checked_sub(1)
                .map(|p| self.candidates[self.fork[p]].hash);
            self.fork.push(candidate);
            out.push(Outgoing::Tx {
                candidate,
                index: index as u64,
                prev,
            });
        }
        out
    }

    /// The txs of the current round still without a verdict: (index, hash).
    pub fn missing(&self) -> Vec<(u64, B256)> {
        (self.round_start..self.fork.len())
            .filter(|p| !self.verdicts.contains_key(p))
            .map(|p| (p as u64, self.candidates[self.fork[p]].hash))
            .collect()
    }

    /// A verdict for the tx at `index` with `hash` (others are stale: ignored).
    pub fn on_result(&mut self, index: u64, hash: B256, status: ResultStatus) -> Progress {
        let position = index as usize;
        let current = self
            .fork
            .get(position)
            .is_some_and(|c| self.candidates[*c].hash == hash);
        if !current || position < self.round_start {
            return Progress::Wait;
        }
        self.verdicts.entry(position).or_insert(status);
        if status == ResultStatus::Failed {
            // The sidecar runs nothing after it until it is rolled back: no use waiting.
            return Progress::Done(self.give_up(FailOpen::Diverged));
        }
        if !self.missing().is_empty() {
            return Progress::Wait;
        }
        self.round_done()
    }

    /// Gives up waiting: what is known stands, everything else is included.
    pub fn give_up(&self, why: FailOpen) -> Judgement {
        Judgement {
            fail_open: Some(why),
            ..self.judgement.clone()
        }
    }

    fn round_done(&mut self) -> Progress {
        for position in self.round_start..self.fork.len() {
            let candidate = self.candidates[self.fork[position]];
            match self.verdicts.get(&position) {
                Some(ResultStatus::Failed) => {
                    // The sidecar could not run it, so everything after it was refused there.
                    return Progress::Done(self.give_up(FailOpen::Diverged));
                }
                Some(ResultStatus::AssertionFailed) if !candidate.node_made => {
                    return self.drop_at(position);
                }
                _ => {}
            }
        }
        Progress::Done(self.judgement.clone())
    }

    /// Drops the tx at `position` and its sender's later txs; rolls the fork back to it and
    /// sends the rest again.
    fn drop_at(&mut self, position: usize) -> Progress {
        let dropped = self.candidates[self.fork[position]];
        self.judgement.dropped.push(dropped.hash);
        let tail: Vec<usize> = self.fork[position..].to_vec();
        let reorg = Outgoing::Reorg {
            index: (self.fork.len() - 1) as u64,
            hashes: tail.iter().map(|c| self.candidates[*c].hash).collect(),
        };
        let mut survivors = Vec::new();
        for c in tail.into_iter().skip(1) {
            let candidate = self.candidates[c];
            if !candidate.node_made && candidate.sender == dropped.sender {
                self.judgement.deferred.push(candidate.hash);
            } else {
                survivors.push(c);
            }
        }
        // Even with no survivors the fork must lose the dropped tail (then `settled`).
        let mut out = vec![reorg];
        out.extend(self.send_round(position, survivors));
        Progress::Send(out)
    }

    /// Candidate `i`.
    pub fn candidate(&self, i: usize) -> Candidate {
        self.candidates[i]
    }

    /// True once a round with nothing to wait for was sent (only a rollback).
    pub fn settled(&self) -> bool {
        self.round_start == self.fork.len()
    }

    /// What it decided so far.
    pub fn judgement(&self) -> &Judgement {
        &self.judgement
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
