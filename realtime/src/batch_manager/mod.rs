//! The BatchManager actor: the heartbeat that turns pending L2 txs into preconfirmed blocks and
//! groups the blocks into proposals (catalyst-reference §2).
//!
//! Each tick runs in two steps on spawned tasks, with the decisions in between taken by the
//! actor on its own state: observe (L2 head, pool, L1 head) → decide (policy, sealing, anchor)
//! → build (anchor tx, driver call) → record. A tick that is still running when the next one is
//! due makes that one a missed tick.
//!
//! Recovery: a `preconfBlocks` whose outcome is unknown (timeout, 5xx) is reconciled against the
//! L2 head before anything else is built; a head that moved under us is reorged back to the last
//! head we verified (foreign blocks on top) or adopted (our blocks were removed).

mod cross_chain;
mod io;
mod record;

use std::{collections::HashMap, sync::Arc, time::Duration};

use alloy::{
    primitives::{Address, B256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use common::{
    backoff::Backoff,
    basefee,
    driver::{DriverError, InsertedBlock, ReorgOutcome},
    faults::{self, FaultPoint},
    health::Settlement,
    ids::ProposalId,
    secret::Secret,
    supervisor::{ChildLink, Handle},
    work::{Outcome, TaskPanicked, spawn_reporting},
};
use cross_chain::CrossChainSource;
pub use io::Clients;
use io::{
    AnchorChoice, BlockContent, BlockUserOps, BuildFailure, BuiltBlock, Observation, ObserveArgs,
    StartFacts, TickError,
};
use spawned_concurrency::{
    message::Message,
    tasks::{Actor, Context, Handler, send_after, spawn_listener},
};
use tokio::sync::watch;

use crate::{
    block_build::{AssembledBlock, BlockFrame, ParentBlock},
    block_policy::{self, Decision, TickView},
    bridge::{
        config::CrossChainContracts,
        returns::ReturnRoute,
        status::{StatusKey, StatusStore, UserOpStatus},
    },
    cadence::Cadence,
    config::RealtimeConfig,
    metrics,
    proposal::{L1Anchor, Proposals, SealReason},
    proposal_store::ProposalStore,
    slot_clock::SlotClock,
    submitter::AsyncSubmitter,
};
use record::{TxOutcomes, block_signals};

/// Ticks to wait for a block whose driver answer was lost before treating it as not inserted.
const UNKNOWN_OUTCOME_GRACE_TICKS: u32 = 2;
/// Blocks kept between the anchor and the L1 head (`blockhash` needs a past block).
const MIN_ANCHOR_OFFSET: u64 = 2;

/// What the BatchManager needs to run.
#[derive(Clone)]
pub struct BatchManagerSetup {
    /// Its clients.
    pub clients: Clients,
    /// The realtime settings.
    pub config: RealtimeConfig,
    /// Time between ticks.
    pub heartbeat: Duration,
    /// Coinbase of every block (the proposer address).
    pub coinbase: Address,
    /// Where sealed proposals are kept until they land.
    pub store: ProposalStore,
    /// Who proves and proposes them; `None` under PRECONF_ONLY.
    pub submitter: Option<Handle<AsyncSubmitter>>,
    /// User-op statuses and the ops ready for a block.
    pub statuses: StatusStore,
    /// Where the preconfirmed head and the open proposal are published.
    pub settlement: Arc<watch::Sender<Settlement>>,
    /// Cross-chain user ops, when this node runs them.
    pub cross_chain: Option<CrossChain>,
}

/// What blocks carrying user ops need.
#[derive(Clone)]
pub struct CrossChain {
    /// The bridges and the Multicall.
    pub contracts: CrossChainContracts,
    /// Signs the L2 processMessage txs (the proposer key, as in Catalyst).
    pub l2_signer: Secret<PrivateKeySigner>,
}

/// A block sent to the driver without a definite answer.
struct UnknownOutcome {
    block: AssembledBlock,
    anchor: L1Anchor,
    ticks_waited: u32,
}

/// The L2 head the node last verified: the next block must extend it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    number: u64,
    hash: B256,
    timestamp: u64,
}

impl From<&ParentBlock> for Head {
    fn from(parent: &ParentBlock) -> Self {
        Self {
            number: parent.number,
            hash: parent.hash,
            timestamp: parent.facts.timestamp,
        }
    }
}

/// Facts that hold once start-up succeeded.
struct Running {
    l1: DynProvider,
    l2: DynProvider,
    l2_chain_id: u64,
    basefee_sharing_pctg: u8,
    returns: Option<ReturnRoute>,
    /// When the open proposal is sealed on the L1 slot clock.
    cadence: Cadence,
}

/// The heartbeat and the proposal under construction.
pub struct BatchManager {
    setup: BatchManagerSetup,
    link: ChildLink,
    running: Option<Running>,
    start_retry: Backoff,
    /// The last L2 head we verified.
    head: Option<Head>,
    last_anchor: u64,
    proposals: Proposals,
    idle_ticks: u64,
    busy: bool,
    missed_ticks: u64,
    unknown: Option<UnknownOutcome>,
    /// The proposal carrying user ops or L2→L1→L2 txs that has not landed or failed yet:
    /// later ones wait for it, because the ids of their L1 messages depend on it.
    ops_proposal: Option<ProposalId>,
    /// L2→L1→L2 txs held back, since when.
    holds: HashMap<B256, std::time::Instant>,
    /// L2→L1→L2 txs that reverted in a block although their answers were there, and why.
    failing: HashMap<B256, String>,
    /// A slot's seal is due (this tick is the last that makes the next L1 slot, or an earlier
    /// one was put off): the open proposal is sealed when the tick ends, if the proposals not
    /// on L1 yet leave it a slot.
    seal_due: bool,
}

impl BatchManager {
    /// A BatchManager reporting to its supervisor through `link`. Fails when the next proposal
    /// id cannot be read: starting again at 1 would overwrite stored proposals.
    pub fn new(
        setup: BatchManagerSetup,
        link: ChildLink,
    ) -> Result<Self, crate::proposal_store::ProposalStoreError> {
        let retry_max = Duration::from_secs(30).max(setup.heartbeat);
        let first_id = setup.store.next_id()?;
        Ok(Self {
            proposals: Proposals::new(setup.config.proposal_limits, first_id),
            start_retry: Backoff::new(setup.heartbeat, retry_max),
            setup,
            link,
            running: None,
            head: None,
            last_anchor: 0,
            idle_ticks: 0,
            busy: false,
            missed_ticks: 0,
            unknown: None,
            ops_proposal: None,
            holds: HashMap::new(),
            failing: HashMap::new(),
            seal_due: false,
        }
        .with_ops_proposal_from_store())
    }

    /// After a restart, a stored proposal with user ops is still the one later ops wait for.
    fn with_ops_proposal_from_store(mut self) -> Self {
        match self.setup.store.all() {
            Ok(stored) => {
                self.ops_proposal = stored
                    .iter()
                    .rev()
                    .find(|p| !p.user_ops.is_empty() || !p.returns.is_empty())
                    .map(|p| p.id);
            }
            Err(e) => tracing::error!(error = %e,
                "cannot read stored proposals; user ops wait until they can be read"),
        }
        self
    }

    /// Whether this tick's block may carry user ops or return signals: only when no earlier
    /// proposal with either is still unlanded.
    fn cross_chain_open(&mut self) -> bool {
        let Some(id) = self.ops_proposal else {
            return true;
        };
        match self.setup.store.contains(id) {
            Ok(false) => {
                self.ops_proposal = None;
                true
            }
            Ok(true) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the proposal store; cross-chain calls wait");
                false
            }
        }
    }

    /// Where this tick's block plans its user ops and L2→L1→L2 txs from (with cross-chain
    /// contracts).
    fn cross_chain_source(&mut self) -> Option<CrossChainSource> {
        let route = self.running.as_ref()?.returns?;
        let hold = self.setup.config.bridge.return_hold;
        Some(CrossChainSource {
            route,
            inbox: self.setup.config.inbox,
            statuses: self.setup.statuses.clone(),
            store: self.setup.store.clone(),
            allowed: self.cross_chain_open(),
            give_up: self
                .holds
                .iter()
                .filter(|(_, since)| since.elapsed() >= hold)
                .map(|(hash, _)| *hash)
                .collect(),
            failing: self.failing.clone(),
        })
    }
}

/// Read the start-up facts (internal).
#[derive(Clone)]
struct Start;
impl Message for Start {
    type Result = ();
}

struct Started(Outcome<Result<StartFacts, TickError>>);
impl Message for Started {
    type Result = ();
}

/// One heartbeat.
#[derive(Clone)]
pub struct Tick;
impl Message for Tick {
    type Result = ();
}

struct Observed(Outcome<Result<Observation, TickError>>);
impl Message for Observed {
    type Result = ();
}

struct Built {
    parent: ParentBlock,
    outcome: Outcome<Result<BuiltBlock, BuildFailure>>,
}
impl Message for Built {
    type Result = ();
}

struct Reorged {
    to: u64,
    outcome: Outcome<Result<ReorgOutcome, DriverError>>,
}
impl Message for Reorged {
    type Result = ();
}

impl Actor for BatchManager {
    async fn started(&mut self, ctx: &Context<Self>) {
        self.link.attach();
        let _ = ctx.send(Start);
    }
}

impl Handler<Start> for BatchManager {
    async fn handle(&mut self, _: Start, ctx: &Context<Self>) {
        let clients = self.setup.clients.clone();
        let config = self.setup.config.clone();
        let cross_chain = self
            .setup
            .cross_chain
            .as_ref()
            .map(|c| (c.contracts, self.setup.coinbase));
        let store = self.setup.store.clone();
        let statuses = self.setup.statuses.clone();
        let proposes = self.setup.submitter.is_some();
        let work = async move {
            let rebuild_from = proposes.then_some(io::RebuildFrom {
                store: &store,
                statuses: &statuses,
                max_anchor_age: config.proposal_limits.max_anchor_age,
            });
            io::start_facts(
                &clients,
                config.inbox,
                (&config.l1_beacon_url, config.l1_slot),
                cross_chain,
                rebuild_from,
            )
            .await
        };
        spawn_reporting(ctx.clone(), work, Started);
    }
}

impl Handler<Started> for BatchManager {
    async fn handle(&mut self, Started(facts): Started, ctx: &Context<Self>) {
        let facts = match facts {
            Err(panic) => return self.lost(panic, "reading the start-up facts", ctx),
            Ok(Ok(facts)) => facts,
            Ok(Err(error @ TickError::Layout(_))) => {
                tracing::error!(%error, "batch manager cannot run against these contracts");
                self.link.fail(ctx, error.to_string());
                return;
            }
            Ok(Err(error)) => {
                let delay = self.start_retry.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64,
                    "batch manager cannot start yet; retrying");
                send_after(delay, ctx.clone(), Start);
                return;
            }
        };
        let first_tick = match &facts.clock {
            Ok(clock) => clock.until_next_slot(std::time::SystemTime::now()),
            Err(error) => {
                tracing::warn!(%error, "L1 beacon API unavailable: heartbeat not aligned to L1 slots");
                Duration::ZERO
            }
        };
        self.last_anchor = facts.last_anchor;
        let cadence = Cadence {
            // Without the beacon, slots of the configured length from the Unix epoch: still one
            // proposal per slot, not aligned with L1's.
            clock: facts.clock.clone().unwrap_or(SlotClock {
                genesis_time: 0,
                slot: self.setup.config.l1_slot,
            }),
            lead: self.setup.config.seal_lead,
            heartbeat: self.setup.heartbeat,
        };
        self.running = Some(Running {
            cadence,
            l1: facts.l1,
            l2: facts.l2,
            l2_chain_id: facts.l2_chain_id,
            basefee_sharing_pctg: facts.basefee_sharing_pctg,
            returns: facts.returns,
        });
        tracing::info!(
            l2_chain_id = facts.l2_chain_id,
            basefee_sharing_pctg = facts.basefee_sharing_pctg,
            last_anchor = facts.last_anchor,
            first_tick_in_ms = first_tick.as_millis() as u64,
            heartbeat_ms = self.setup.heartbeat.as_millis() as u64,
            preconf_only = self.setup.config.preconf_only,
            "batch manager started"
        );
        if let Some(rebuilt) = facts.rebuilt {
            self.take_back(rebuilt, ctx);
        }
        spawn_heartbeat(ctx.clone(), first_tick, self.setup.heartbeat);
    }
}

/// Sends `Tick` on every heartbeat, starting at `first`; a late tick is skipped, not bunched.
/// Ends when the actor stops.
fn spawn_heartbeat(ctx: Context<BatchManager>, first: Duration, period: Duration) {
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let ticks = futures::stream::unfold(interval, |mut interval| async move {
        interval.tick().await;
        Some((Tick, interval))
    });
    spawn_listener(ctx, ticks);
}

impl Handler<Tick> for BatchManager {
    async fn handle(&mut self, _: Tick, ctx: &Context<Self>) {
        let Some(running) = &self.running else {
            return;
        };
        self.idle_ticks += 1;
        if self.busy {
            self.missed_ticks += 1;
            tracing::debug!(
                missed = self.missed_ticks,
                "previous tick still running; tick skipped"
            );
            return;
        }
        self.busy = true;
        self.seal_due |= running.cadence.due(std::time::SystemTime::now());
        let clients = self.setup.clients.clone();
        let (l1, l2) = (running.l1.clone(), running.l2.clone());
        let min_base_fee = basefee::min_base_fee(running.l2_chain_id);
        let args = ObserveArgs {
            coinbase: self.setup.coinbase,
            max_bytes: self.setup.config.max_bytes_per_tx_list,
            min_base_fee,
            known: self.head.map(|h| (h.hash, h.timestamp)),
            cross_chain: self.cross_chain_source(),
        };
        let work = async move { io::observe(&clients, &l1, &l2, args).await };
        spawn_reporting(ctx.clone(), work, Observed);
    }
}

impl Handler<Observed> for BatchManager {
    async fn handle(&mut self, Observed(observed): Observed, ctx: &Context<Self>) {
        let observation = match observed {
            Err(panic) => return self.lost(panic, "observing the chains", ctx),
            Ok(Ok(o)) => o,
            Ok(Err(error)) => {
                self.fail(&error, "could not observe the chains");
                return;
            }
        };
        if let Some(unknown) = self.unknown.take()
            && self.reconcile(unknown, &observation) == Settled::Wait
        {
            self.end_tick();
            return;
        }
        if !self.check_head(&observation, ctx) {
            return;
        }
        self.note_holds(&observation.cross_chain.held);
        for (id, reason) in &observation.cross_chain.rejected {
            self.setup.statuses.set_soon(
                &[StatusKey::Op(*id)],
                UserOpStatus::Rejected {
                    reason: reason.clone(),
                },
            );
        }
        self.decide_and_build(observation, ctx);
    }
}

/// Whether a block with an unknown outcome still blocks building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// Recorded as inserted, or given up on: build as usual.
    Yes,
    /// Still unknown: do not build on top yet.
    Wait,
}

impl BatchManager {
    /// Ends the tick: the open proposal is sealed if this tick was the last that makes the
    /// next L1 slot, and what it looks like now is published.
    fn end_tick(&mut self) {
        self.busy = false;
        if self.seal_due && self.slot_free() {
            self.seal_due = false;
            let sealed = self.proposals.seal(SealReason::Slot);
            self.hand_over(sealed);
        }
        self.publish();
    }

    /// Whether the proposals sealed and not on L1 yet leave a slot for another one.
    fn slot_free(&self) -> bool {
        let Some(running) = &self.running else {
            return false;
        };
        match self.setup.store.len() {
            Ok(unlanded) => unlanded < running.cadence.max_unlanded(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the proposal store; sealing on the slot clock anyway");
                true
            }
        }
    }

    fn fail(&mut self, error: &TickError, what: &str) {
        metrics::preconf()
            .block_failures
            .with_label_values(&[error.cause()])
            .inc();
        tracing::warn!(%error, cause = error.cause(), "{what}; block production resumes on the next tick");
        self.end_tick();
    }

    /// A block whose driver answer was lost: is it the L2 head now?
    fn reconcile(&mut self, mut unknown: UnknownOutcome, seen: &Observation) -> Settled {
        let data = &unknown.block.request.executable_data;
        if seen.parent.number == data.block_number
            && seen.parent.facts.timestamp == data.timestamp
            && seen.first_tx == Some(unknown.block.anchor_tx_hash)
        {
            tracing::info!(number = data.block_number, hash = %seen.parent.hash,
                "the driver inserted the block whose answer was lost; recording it");
            let inserted = InsertedBlock {
                number: seen.parent.number,
                hash: seen.parent.hash,
                state_root: seen.state_root,
                parent_hash: data.parent_hash,
            };
            self.record(unknown.block, unknown.anchor, inserted, None);
            return Settled::Yes;
        }
        if self.head.is_some_and(|h| h.hash == seen.parent.hash) {
            unknown.ticks_waited += 1;
            if unknown.ticks_waited <= UNKNOWN_OUTCOME_GRACE_TICKS {
                tracing::info!(
                    number = data.block_number,
                    waited = unknown.ticks_waited,
                    "block outcome still unknown; not building on top until it is settled"
                );
                self.unknown = Some(unknown);
                return Settled::Wait;
            }
            tracing::warn!(
                number = data.block_number,
                "the driver did not insert the block whose answer was lost; its txs stay in the pool"
            );
        }
        Settled::Yes
    }

    /// A task of this actor panicked: what it was doing is unknown (a block may or may not be
    /// on L2), so the actor fails and its successor starts from what the chains say.
    fn lost(&mut self, panic: TaskPanicked, what: &str, ctx: &Context<Self>) {
        tracing::error!(%panic, "batch manager task lost while {what}; restarting the actor");
        self.link.fail(ctx, format!("{what}: {panic}"));
    }

    /// Rolls the L2 back to block `to` on a task; the outcome comes back as `Reorged`.
    fn spawn_reorg(&self, to: u64, ctx: &Context<Self>) {
        let clients = self.setup.clients.clone();
        let work = async move { clients.driver.reorg_stale_block(to).await };
        spawn_reporting(ctx.clone(), work, move |outcome| Reorged { to, outcome });
    }

    /// Compares the L2 head with the head we verified; recovers when it moved. True: go on.
    fn check_head(&mut self, seen: &Observation, ctx: &Context<Self>) -> bool {
        let ours = match self.head {
            None => {
                self.head = Some(Head::from(&seen.parent));
                return true;
            }
            Some(ours) if ours.hash == seen.parent.hash => return true,
            Some(ours) => ours,
        };
        metrics::preconf()
            .block_failures
            .with_label_values(&["head_moved"])
            .inc();
        if seen.parent.number > ours.number {
            tracing::warn!(cause = "head_moved", ours = ours.number, our_hash = %ours.hash, head = seen.parent.number,
                head_hash = %seen.parent.hash,
                "L2 head moved under us (blocks we did not build); reorging back to our last head");
            self.spawn_reorg(ours.number, ctx);
            return false;
        }
        let dropped = self.proposals.discard_open();
        tracing::error!(cause = "head_moved", ours = ours.number, our_hash = %ours.hash, head = seen.parent.number,
            head_hash = %seen.parent.hash, dropped_proposal = ?dropped,
            "our L2 blocks were removed (reorg); continuing from the new head");
        self.head = Some(Head::from(&seen.parent));
        true
    }

    fn decide_and_build(&mut self, seen: Observation, ctx: &Context<Self>) {
        let Some(running) = &self.running else {
            self.end_tick();
            return;
        };
        let view = TickView {
            pending_txs: seen.pool.len(),
            timestamp: seen.now,
            head_timestamp: seen.parent.facts.timestamp,
            idle_ticks: self.idle_ticks,
            proposal_open: self.proposals.open_anchor().is_some(),
            has_node_content: !seen.cross_chain.ops.is_empty()
                || !seen.cross_chain.returns.is_empty(),
        };
        let reason = match block_policy::decide(&self.setup.config.block_policy, &view) {
            Decision::Wait(why) => {
                tracing::trace!(?why, pending = view.pending_txs, "no block this tick");
                self.end_tick();
                return;
            }
            Decision::Build(reason) => reason,
        };
        let signal_slots = block_signals(&seen.cross_chain.ops, &seen.cross_chain.returns);
        let sealed = self
            .proposals
            .seal_before(seen.l1_head, seen.now, !signal_slots.is_empty());
        self.hand_over(sealed);
        let anchor = match self.proposals.open_anchor() {
            Some(anchor) => AnchorChoice::Known(anchor),
            None => AnchorChoice::Fetch(choose_anchor(
                seen.l1_head,
                self.last_anchor,
                self.setup.config.anchor_lag,
            )),
        };
        let frame = BlockFrame {
            chain_id: running.l2_chain_id,
            anchor_contract: self.setup.config.anchor,
            coinbase: self.setup.coinbase,
            basefee_sharing_pctg: running.basefee_sharing_pctg,
            golden_touch_nonce: 0,
            anchor: L1Anchor {
                number: 0,
                hash: B256::ZERO,
                state_root: B256::ZERO,
            },
            signal_slots,
            timestamp: seen.now,
            base_fee: seen.base_fee,
            gas_limit: seen.parent.gas_limit_without_anchor(),
        };
        tracing::debug!(
            ?reason,
            txs = seen.pool.len(),
            number = seen.parent.number + 1,
            "building a block"
        );
        let clients = self.setup.clients.clone();
        let (l1, l2) = (running.l1.clone(), running.l2.clone());
        let parent = seen.parent;
        let content = seen.cross_chain;
        let user_ops = match (&self.setup.cross_chain, content.ops.is_empty()) {
            (Some(cross_chain), false) => Some(BlockUserOps {
                ops: content.ops,
                signer: cross_chain.l2_signer.expose().clone(),
                l2_bridge: cross_chain.contracts.l2_bridge,
            }),
            _ => None,
        };
        let work = async move {
            faults::reach(FaultPoint::BlockBuild);
            io::build(
                &clients,
                &l1,
                &l2,
                parent,
                frame,
                anchor,
                BlockContent {
                    pool: seen.pool,
                    user_ops,
                    returns: content.returns,
                    consumers: content.consumers,
                },
            )
            .await
        };
        spawn_reporting(ctx.clone(), work, move |outcome| Built { parent, outcome });
    }
}

/// The anchor of a new proposal: `ANCHOR_L1_HEIGHT_LAG` behind the L1 head, never before the
/// previous anchor (the Anchor contract ignores a lower number), and at least
/// `MIN_ANCHOR_OFFSET` below the head.
pub fn choose_anchor(l1_head: u64, last_anchor: u64, lag: u64) -> u64 {
    l1_head
        .saturating_sub(lag)
        .max(last_anchor)
        .min(l1_head.saturating_sub(MIN_ANCHOR_OFFSET))
}

impl Handler<Built> for BatchManager {
    async fn handle(&mut self, built: Built, ctx: &Context<Self>) {
        match built.outcome {
            Err(panic) => self.lost(panic, "building a block", ctx),
            Ok(Ok(block)) => {
                let m = metrics::preconf();
                m.block_build_seconds
                    .with_label_values(&["node"])
                    .observe(block.node_time.as_secs_f64());
                m.block_build_seconds
                    .with_label_values(&["driver"])
                    .observe(block.driver_time.as_secs_f64());
                let inserted = block.inserted;
                if inserted.parent_hash != built.parent.hash
                    || inserted.number != built.parent.number + 1
                {
                    tracing::error!(
                        expected_parent = %built.parent.hash,
                        expected_number = built.parent.number + 1,
                        got_parent = %inserted.parent_hash,
                        got_number = inserted.number,
                        "driver returned a header that does not continue our head; reorging back"
                    );
                    m.block_failures.with_label_values(&["bad_header"]).inc();
                    self.spawn_reorg(built.parent.number, ctx);
                    return;
                }
                let outcome = TxOutcomes {
                    consumers: block.consumers,
                    reverted: block.reverted,
                };
                let doomed = cross_chain::doomed(&outcome.consumers, outcome.reverted.as_ref());
                if !doomed.is_empty() {
                    // Their answers' signals are required by the anchor, but only their own
                    // L2→L1 messages make L1 send them: the proposal could never land.
                    tracing::error!(number = inserted.number, txs = ?doomed,
                        "L2→L1→L2 txs reverted in the block although their answers were in it; reorging it back and taking them as they are");
                    m.block_failures
                        .with_label_values(&["answered_tx_reverted"])
                        .inc();
                    for hash in doomed {
                        self.failing.insert(hash, format!(
                            "it reverted in L2 block {} although the L1 answers it consumes were fast signals of that block",
                            inserted.number
                        ));
                    }
                    self.spawn_reorg(built.parent.number, ctx);
                    return;
                }
                self.record(block.assembled, block.anchor, inserted, Some(outcome));
                self.end_tick();
            }
            Ok(Err(failure)) => {
                if let Some((block, anchor)) = failure.sent {
                    tracing::warn!(error = %failure.error,
                        number = block.request.executable_data.block_number,
                        "preconfBlocks outcome unknown; reconciling with the L2 head before building again");
                    self.unknown = Some(UnknownOutcome {
                        block,
                        anchor,
                        ticks_waited: 0,
                    });
                }
                self.fail(&failure.error, "block not preconfirmed");
            }
        }
    }
}

impl Handler<Reorged> for BatchManager {
    async fn handle(&mut self, reorged: Reorged, ctx: &Context<Self>) {
        match reorged.outcome {
            Err(panic) => return self.lost(panic, "reorging the L2 back", ctx),
            Ok(Ok(outcome)) => {
                tracing::info!(to = reorged.to, new_head = %outcome.new_head_block_hash,
                removed = outcome.blocks_removed, "L2 reorged back to our last head")
            }
            Ok(Err(error)) => tracing::warn!(%error, to = reorged.to,
                "reorg to our last head failed; retrying on the next tick"),
        }
        self.end_tick();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_lags_never_goes_back_and_stays_below_the_head() {
        assert_eq!(choose_anchor(100, 0, 8), 92);
        assert_eq!(choose_anchor(100, 95, 8), 95);
        assert_eq!(choose_anchor(100, 99, 8), 98);
        assert_eq!(choose_anchor(3, 0, 8), 0);
    }
}
