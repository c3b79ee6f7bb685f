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

mod anchor;
mod clients;
mod credible;
mod cross_chain;
mod forced;
mod io;
mod phase;
pub mod protocol;
mod record;
mod rollback;
mod start;
mod tick;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
    time::Duration,
};

use alloy::{
    primitives::{Address, B256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
pub use anchor::choose_anchor;
pub use clients::Clients;
use common::{
    backoff::Backoff,
    basefee,
    health::{BlockProduction, Settlement},
    ids::ProposalId,
    secret::Secret,
    supervisor::{ChildLink, Handle, Subscriber},
    work::spawn_reporting,
};
use cross_chain::CrossChainSource;
use io::{ObserveArgs, TickError};
use phase::{Action, Event, Phase};
use protocol::{
    ForcedInclusions, L1Head, Observed, ProposalSettled, RewindL2, Settled, Start, Started, Tick,
};
use spawned_concurrency::tasks::{Actor, Context, Handler, send_after, spawn_listener};
use tokio::sync::watch;

use crate::{
    block_build::{AssembledBlock, ParentBlock},
    bridge::{
        BridgeHandler, config::CrossChainContracts, returns::ReturnRoute, status::StatusStore,
    },
    cadence::Cadence,
    config::RealtimeConfig,
    forced_inclusion::ForcedQueue,
    proposal::{L1Anchor, Proposals},
    proposal_store::ProposalStore,
    slot_clock::SlotClock,
    submitter::protocol::Submit,
};

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
    /// Who hands out the user ops ready for a block.
    pub bridge: Handle<BridgeHandler>,
    /// Who proves and proposes them; `None` under PRECONF_ONLY.
    pub submitter: Option<Subscriber<Submit>>,
    /// User-op and tracked-tx statuses (written as blocks carry them).
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
    /// The anchor number of the L2 head at start, until this run anchors a block.
    start_anchor: u64,
    /// The last block's anchor, once this run anchored one: a new proposal that anchors on the
    /// same block needs no L1 read, and keeps it when L1 does not answer.
    known_anchor: Option<L1Anchor>,
    proposals: Proposals,
    idle_ticks: u64,
    /// What it is doing between messages ([`phase::next`] moves it).
    phase: Phase,
    /// A rollback that failed: asked again at the next tick.
    failed_rewind: Option<RewindL2>,
    /// Asked rollbacks that failed in a row (given up at `REWIND_ATTEMPTS`).
    rewind_failures: u32,
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
    /// Sealed proposals the submitter has not settled yet (read from the store at start, then
    /// kept from `ProposalSettled`).
    unlanded: BTreeSet<ProposalId>,
    /// The L1 head as the chain monitor last told it.
    l1_head: Option<u64>,
    /// A rewind asked for while a tick was running: done when it ends (the lowest wins).
    rewind: Option<RewindL2>,
    /// The inbox's forced-inclusion queue as the chain monitor last read it.
    forced_queue: Option<ForcedQueue>,
    /// Unlanded sealed proposals that consume forced inclusions: the queue index after their
    /// last one.
    forced_through: BTreeMap<ProposalId, u64>,
    /// Why the running tick could not build its block (set by `fail`, read when it ends).
    tick_failure: Option<String>,
    /// Whether blocks can be built, as `/readyz` and `/status` show it.
    production: BlockProduction,
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
        Self {
            proposals: Proposals::new(setup.config.proposal_limits, first_id),
            start_retry: Backoff::new(setup.heartbeat, retry_max),
            setup,
            link,
            running: None,
            head: None,
            start_anchor: 0,
            known_anchor: None,
            idle_ticks: 0,
            phase: Phase::Starting,
            failed_rewind: None,
            rewind_failures: 0,
            missed_ticks: 0,
            unknown: None,
            ops_proposal: None,
            holds: HashMap::new(),
            failing: HashMap::new(),
            seal_due: false,
            unlanded: BTreeSet::new(),
            l1_head: None,
            rewind: None,
            forced_queue: None,
            forced_through: BTreeMap::new(),
            tick_failure: None,
            production: BlockProduction::default(),
        }
        .with_unlanded_from_store()
    }

    /// After a restart, the stored proposals are the unlanded ones, and the last one with user
    /// ops is still the one later ops wait for. Read once: the submitter reports the rest.
    fn with_unlanded_from_store(
        mut self,
    ) -> Result<Self, crate::proposal_store::ProposalStoreError> {
        let stored = self.setup.store.all()?;
        self.ops_proposal = stored
            .iter()
            .rev()
            .find(|p| !p.user_ops.is_empty() || !p.returns.is_empty())
            .map(|p| p.id);
        self.unlanded = stored.iter().map(|p| p.id).collect();
        self.forced_through = stored
            .iter()
            .filter_map(|p| Some((p.id, p.forced.last()?.index + 1)))
            .collect();
        Ok(self)
    }

    /// Whether this tick's block may carry user ops or return signals: only when no earlier
    /// proposal with either is still unlanded.
    fn cross_chain_open(&mut self) -> bool {
        if self
            .ops_proposal
            .is_some_and(|id| !self.unlanded.contains(&id))
        {
            self.ops_proposal = None;
        }
        // A proposal that starts with forced inclusions carries no fast signals: they belong
        // in its first block's anchor, built before any user op was known.
        self.ops_proposal.is_none() && self.proposals.open_forced() == 0
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
            bridge: self.setup.bridge.clone(),
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
        let bridge = self.setup.bridge.clone();
        let proposes = self.setup.submitter.is_some();
        let work = async move {
            let rebuild_from = proposes.then_some(start::RebuildFrom {
                store: &store,
                bridge: &bridge,
                max_anchor_age: config.proposal_limits.max_anchor_age,
            });
            start::start_facts(
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
        self.start_anchor = facts.last_anchor;
        // A newer head from the chain monitor may have come while the facts were read.
        self.l1_head = self.l1_head.max(Some(facts.l1_head));
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
        let rewinds = facts
            .rebuilt
            .is_some_and(|rebuilt| self.take_back(rebuilt, ctx));
        let action = self.step(Event::Started { rewind: rewinds });
        self.act(action, ctx);
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
        if let Some(failed) = self.failed_rewind.take() {
            self.ask_rewind(failed, ctx);
        }
        if self.running.is_some() {
            self.idle_ticks += 1;
        }
        let action = self.step(Event::Tick {
            l1_head: self.l1_head.is_some(),
        });
        if action != Action::Observe {
            return self.act(action, ctx);
        }
        let (Some(running), Some(l1_head)) = (&self.running, self.l1_head) else {
            // Observing needs both; the phase rules only start a tick with them.
            return self.tick_done(ctx);
        };
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
            l1_head,
        };
        let work = async move { io::observe(&clients, &l1, &l2, args).await };
        spawn_reporting(ctx.clone(), work, Observed);
    }
}

impl Handler<ProposalSettled> for BatchManager {
    async fn handle(&mut self, settled: ProposalSettled, _: &Context<Self>) {
        match settled.how {
            Settled::Landed | Settled::Dropped => {
                self.unlanded.remove(&settled.id);
                self.forced_through.remove(&settled.id);
            }
            Settled::Abandoned => {
                self.unlanded.retain(|id| *id < settled.id);
                self.forced_through.retain(|id, _| *id < settled.id);
            }
        }
        self.publish();
    }
}

impl Handler<ForcedInclusions> for BatchManager {
    async fn handle(&mut self, ForcedInclusions(queue): ForcedInclusions, _: &Context<Self>) {
        self.forced_queue = Some(queue);
    }
}

impl Handler<L1Head> for BatchManager {
    async fn handle(&mut self, L1Head(head): L1Head, _: &Context<Self>) {
        self.l1_head = Some(head.number);
    }
}
