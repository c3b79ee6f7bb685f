//! The Credible Layer sidecar stand-in's protocol state, without I/O: what the real sidecar does
//! with each event of a `StreamEvents` stream. It follows phylaxsystems/credible-sdk (eee2c813):
//! the transport checks of `crates/sidecar/src/transport/grpc/server.rs` (`process_event`,
//! the event-id buffer of `transport/event_id_deduplication.rs`, the CommitHead gate), the
//! ordering of `event_sequencing/mod.rs` (a tx runs only after its predecessor, named by
//! `prev_tx_hash`), and the engine rules of `engine/mod.rs` (`process_iteration`,
//! `execute_reorg`, `check_cache`). See docs/research/credible-layer-sidecar.md, §3.
//! Executing a transaction is the caller's: it passes the verdict in.

use std::collections::{HashMap, HashSet, VecDeque};

use super::decode::{number, validate};
use common::credible_layer::wire::{
    CommitHead, Event, NewIteration, ReorgEvent, ResultStatus, Transaction, TxExecutionId, event,
};

/// Event ids remembered service-wide for de-duplication (upstream's buffer capacity).
pub const EVENT_ID_MEMORY: usize = 1_000;

/// Why an event failed: the stream gets a failed ack and is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Nothing but a CommitHead is accepted before the first CommitHead.
    #[error("commit head must be received before other events")]
    NoCommitHead,
    /// The event carries no payload.
    #[error("event payload missing")]
    NoPayload,
    /// A field is missing or has the wrong length.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// What an accepted event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Its id was seen before (service-wide): acked, not processed.
    Duplicate,
    /// It is about a block at or below the head: dropped.
    Stale,
    /// Applied.
    Applied,
    /// A transaction that does not follow its predecessor: held back, never executed.
    Parked,
    /// The cache was thrown away for this cause.
    Invalidated(Invalidation),
}

/// Why the sidecar threw its cache away (`invalidate_all_at_block`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Invalidation {
    /// The first CommitHead of the process (its head starts unknown).
    Bootstrap,
    /// The selected iteration was never opened.
    NoIteration,
    /// The block is not the head's successor.
    Head,
    /// The last executed tx is not the CommitHead's `last_tx_hash`.
    LastHash,
    /// The valid tx count is not `n_transactions`.
    Count,
    /// An engine error: unknown iteration, a bad reorg, a tx after a FAILED one.
    Engine,
}

/// What a transaction's execution found (the stand-in's executor decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Ran; assertions hold.
    Success,
    /// Reverted; assertions hold.
    Reverted,
    /// An assertion failed (its state still counts, as upstream).
    AssertionFailed,
    /// It could not run (nonce, funds): an empty slot that blocks the block until rolled back.
    Failed(String),
}

impl Verdict {
    /// The status the sidecar reports.
    pub fn status(&self) -> ResultStatus {
        match self {
            Verdict::Success => ResultStatus::Success,
            Verdict::Reverted => ResultStatus::Reverted,
            Verdict::AssertionFailed => ResultStatus::AssertionFailed,
            Verdict::Failed(_) => ResultStatus::Failed,
        }
    }
}

/// A transaction as the engine keeps it: its id, how it ran, and what it changed (the
/// executor's, so later txs of the iteration run on top of it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Executed<E> {
    hash: Vec<u8>,
    index: u64,
    verdict: Verdict,
    effects: E,
}

/// Counters the stand-in reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events skipped as duplicate ids.
    pub duplicates: u64,
    /// Transactions held back for not following their predecessor.
    pub parked: u64,
    /// Reorgs applied.
    pub reorgs: u64,
    /// Cache invalidations by cause.
    pub invalidations: HashMap<Invalidation, u64>,
    /// Verdicts given, by status name.
    pub verdicts: HashMap<&'static str, u64>,
}

/// What the engine does with an accepted event.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Done with it.
    Done(Processed),
    /// The tx runs now: execute it on its iteration's fork, then call
    /// [`SidecarState::executed`] before the next event.
    Run(Box<Transaction>),
}

/// The sidecar's protocol state for the whole service (all streams): the transport's part
/// ([`SidecarState::accept`]) and the engine's ([`SidecarState::apply`]), which upstream runs
/// on its own thread after the ack, in event order.
#[derive(Debug)]
pub struct SidecarState<E = ()> {
    seen: HashSet<u64>,
    order: VecDeque<u64>,
    commit_head_seen: bool,
    head: Option<u64>,
    /// Open iterations: (block, iteration) → its executed txs.
    forks: HashMap<(u64, u64), Vec<Executed<E>>>,
    /// Verdicts by (block, iteration, index, hash).
    results: HashMap<(u64, u64, u64, Vec<u8>), Verdict>,
    /// What it counted.
    pub stats: Stats,
}

impl<E> Default for SidecarState<E> {
    fn default() -> Self {
        Self {
            seen: HashSet::new(),
            order: VecDeque::new(),
            commit_head_seen: false,
            head: None,
            forks: HashMap::new(),
            results: HashMap::new(),
            stats: Stats::default(),
        }
    }
}

impl<E: Clone> SidecarState<E> {
    /// A sidecar that just started: no head, nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a CommitHead was accepted (the unary lookups are refused until then).
    pub fn commit_head_seen(&self) -> bool {
        self.commit_head_seen
    }

    /// The head block, once a CommitHead set it.
    pub fn head(&self) -> Option<u64> {
        self.head
    }

    /// The verdict of a transaction, if it ran.
    pub fn result(&self, id: &TxExecutionId) -> Option<&Verdict> {
        let block = number(&id.block_number, "block_number").ok()?;
        self.results
            .get(&(block, id.iteration_id, id.index, id.tx_hash.clone()))
    }

    /// The effects of the txs executed so far in (block, iteration), oldest first.
    pub fn fork_effects(&self, block: u64, iteration: u64) -> Vec<E> {
        self.forks
            .get(&(block, iteration))
            .map(|txs| txs.iter().map(|tx| tx.effects.clone()).collect())
            .unwrap_or_default()
    }

    /// The transport's part, done before the ack: de-duplication (service-wide; the id is used
    /// up even when the event is refused), the payload, the CommitHead gate and the field
    /// checks. `Ok(None)`: a duplicate, acked and skipped.
    pub fn accept(&mut self, event: Event) -> Result<Option<event::Event>, Refusal> {
        if !self.remember(event.event_id) {
            self.stats.duplicates += 1;
            return Ok(None);
        }
        let payload = event.event.ok_or(Refusal::NoPayload)?;
        if !self.commit_head_seen && !matches!(payload, event::Event::CommitHead(_)) {
            return Err(Refusal::NoCommitHead);
        }
        validate(&payload)?;
        if matches!(payload, event::Event::CommitHead(_)) {
            self.commit_head_seen = true;
        }
        Ok(Some(payload))
    }

    /// The engine's part, in event order, for an accepted payload.
    pub fn apply(&mut self, payload: event::Event) -> Step {
        let applied = match payload {
            event::Event::CommitHead(commit) => self.commit(commit),
            event::Event::NewIteration(iteration) => self.iteration(iteration),
            event::Event::Transaction(tx) => return self.transaction(tx),
            event::Event::Reorg(reorg) => self.reorg(reorg),
        };
        // `accept` validated the fields, so a refusal here cannot happen; if it did, the
        // event is dropped as the engine drops what it cannot decode.
        Step::Done(applied.unwrap_or(Processed::Stale))
    }

    /// Records how a tx that [`Step::Run`] handed out ran.
    pub fn executed(&mut self, tx: &Transaction, verdict: Verdict, effects: E) {
        let Some(id) = &tx.tx_execution_id else {
            return;
        };
        let Ok(block) = number(&id.block_number, "tx_execution_id.block_number") else {
            return;
        };
        *self
            .stats
            .verdicts
            .entry(verdict.status().as_str_name())
            .or_default() += 1;
        self.results.insert(
            (block, id.iteration_id, id.index, id.tx_hash.clone()),
            verdict.clone(),
        );
        if let Some(txs) = self.forks.get_mut(&(block, id.iteration_id)) {
            txs.push(Executed {
                hash: id.tx_hash.clone(),
                index: id.index,
                verdict,
                effects,
            });
        }
    }

    /// Accepts and applies one event, executing a tx that runs with `execute` (no effects).
    pub fn on_event(
        &mut self,
        event: Event,
        execute: impl FnOnce(&Transaction) -> Verdict,
    ) -> Result<Processed, Refusal>
    where
        E: Default,
    {
        let Some(payload) = self.accept(event)? else {
            return Ok(Processed::Duplicate);
        };
        match self.apply(payload) {
            Step::Done(processed) => Ok(processed),
            Step::Run(tx) => {
                let verdict = execute(&tx);
                self.executed(&tx, verdict, E::default());
                Ok(Processed::Applied)
            }
        }
    }

    /// Inserts `id` into the service-wide buffer (before validation, as upstream); false if
    /// it was there.
    fn remember(&mut self, id: u64) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > EVENT_ID_MEMORY
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        true
    }

    fn invalidate(&mut self, cause: Invalidation, head: Option<u64>) -> Processed {
        *self.stats.invalidations.entry(cause).or_default() += 1;
        self.forks.clear();
        self.results.clear();
        if head.is_some() {
            self.head = head;
        }
        Processed::Invalidated(cause)
    }

    fn stale(&self, block: u64) -> bool {
        self.head.is_some_and(|head| block <= head)
    }

    fn commit(&mut self, commit: CommitHead) -> Result<Processed, Refusal> {
        let block = number(&commit.block_number, "commit_head.block_number")?;
        let last = commit.last_tx_hash.filter(|h| !h.is_empty());
        if self.head.is_none() {
            return Ok(self.invalidate(Invalidation::Bootstrap, Some(block)));
        }
        // Sequencing drops every event for a block at or below the head, CommitHead included
        // (a restarted node names the head the sidecar already has).
        if self.stale(block) {
            return Ok(Processed::Stale);
        }
        let Some(txs) = self.forks.get(&(block, commit.selected_iteration_id)) else {
            return Ok(self.invalidate(Invalidation::NoIteration, Some(block)));
        };
        if self.head.map(|head| head + 1) != Some(block) {
            return Ok(self.invalidate(Invalidation::Head, Some(block)));
        }
        if txs.last().map(|tx| &tx.hash) != last.as_ref() {
            return Ok(self.invalidate(Invalidation::LastHash, Some(block)));
        }
        let valid = txs
            .iter()
            .filter(|tx| !matches!(tx.verdict, Verdict::Failed(_)))
            .count() as u64;
        if valid != commit.n_transactions {
            return Ok(self.invalidate(Invalidation::Count, Some(block)));
        }
        if txs
            .last()
            .is_some_and(|tx| matches!(tx.verdict, Verdict::Failed(_)))
        {
            return Ok(self.invalidate(Invalidation::Engine, Some(block)));
        }
        self.head = Some(block);
        self.forks.clear();
        Ok(Processed::Applied)
    }

    fn iteration(&mut self, iteration: NewIteration) -> Result<Processed, Refusal> {
        let env = iteration
            .block_env
            .ok_or(Refusal::Invalid("new_iteration.block_env"))?;
        let block = number(&env.number, "block_env.number")?;
        if self.stale(block) {
            return Ok(Processed::Stale);
        }
        if self.head.map(|head| head + 1) != Some(block) {
            return Ok(self.invalidate(Invalidation::Head, None));
        }
        // The last one prevails: a repeated (block, iteration) starts its fork afresh.
        self.forks
            .insert((block, iteration.iteration_id), Vec::new());
        Ok(Processed::Applied)
    }

    fn transaction(&mut self, tx: Transaction) -> Step {
        let Some(id) = tx.tx_execution_id.clone() else {
            return Step::Done(Processed::Stale);
        };
        let Ok(block) = number(&id.block_number, "tx_execution_id.block_number") else {
            return Step::Done(Processed::Stale);
        };
        if self.stale(block) {
            return Step::Done(Processed::Stale);
        }
        let Some(txs) = self.forks.get(&(block, id.iteration_id)) else {
            return Step::Done(self.invalidate(Invalidation::Engine, None));
        };
        // Sequencing: index i runs only right after index i-1, naming its hash.
        let prev = tx.prev_tx_hash.as_ref().filter(|h| !h.is_empty());
        let follows = id.index == txs.len() as u64 && prev == txs.last().map(|last| &last.hash);
        if !follows {
            self.stats.parked += 1;
            return Step::Done(Processed::Parked);
        }
        if txs
            .last()
            .is_some_and(|last| matches!(last.verdict, Verdict::Failed(_)))
        {
            // "We expect a reorg for a failed transaction."
            return Step::Done(self.invalidate(Invalidation::Engine, None));
        }
        Step::Run(Box::new(tx))
    }

    fn reorg(&mut self, reorg: ReorgEvent) -> Result<Processed, Refusal> {
        let id = reorg
            .tx_execution_id
            .ok_or(Refusal::Invalid("reorg.tx_execution_id"))?;
        let block = number(&id.block_number, "reorg.block_number")?;
        if self.stale(block) {
            return Ok(Processed::Stale);
        }
        let depth = reorg.tx_hashes.len();
        let Some(txs) = self.forks.get_mut(&(block, id.iteration_id)) else {
            return Ok(self.invalidate(Invalidation::Engine, None));
        };
        let newest = txs.last().map(|tx| (tx.index, &tx.hash));
        let tail_matches = depth <= txs.len()
            && txs[txs.len() - depth..]
                .iter()
                .map(|tx| &tx.hash)
                .eq(reorg.tx_hashes.iter());
        if newest != Some((id.index, &id.tx_hash)) || !tail_matches {
            return Ok(self.invalidate(Invalidation::Engine, None));
        }
        let removed = txs.split_off(txs.len() - depth);
        for tx in removed {
            self.results
                .remove(&(block, id.iteration_id, tx.index, tx.hash));
        }
        self.stats.reorgs += 1;
        Ok(Processed::Applied)
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
