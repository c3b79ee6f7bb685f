//! Cross-chain user ops (L1→L2→L1, catalyst-reference §7.1) and the BridgeHandler actor.
//!
//! An op's way: `surge_sendUserOp` stores it Pending (on disk before the answer) → the
//! BridgeHandler simulates it alone on L1 and stores it as "ready" (or rejects it) → the
//! BatchManager simulates the ready ops together with the block's L2→L1→L2 answers in one L1
//! run ([`plan`]), puts those that run in the first block of a proposal, with an L2
//! `processMessage` tx per message that run sent and the messages' slots as fast signals, and
//! seals that proposal at once (ProvingBlock) → the submitter sends `[user ops…, propose, L1
//! calls…]` through the Multicall (Processing) → Executed when it lands. An op whose proposal
//! is abandoned for a cause not its own goes back to Pending and ready, up to
//! `USER_OP_MAX_ATTEMPTS` proposals; an op that reverts in its block's run is Rejected. Ready
//! ops and proposals live in the store, so nothing is lost across restarts of an actor or of
//! the node.

pub mod ahead;
pub mod callback;
pub mod config;
pub mod l1_calls;
pub mod l1_run;
pub mod l2_calls;
pub mod message;
pub mod outbound;
pub mod plan;
pub mod returns;
pub mod rpc;
pub mod signals;
pub mod simulate;
pub mod status;
pub mod tx_outcome;

mod intake;
pub mod protocol;

use std::{collections::VecDeque, time::Duration};

use alloy::{
    primitives::Address,
    providers::{DynProvider, Provider},
};
use bindings::IRealTimeInbox;
use common::{backoff::Backoff, rpc::RpcEndpoint, supervisor::ChildLink, work::spawn_reporting};
use jsonrpsee::server::ServerHandle;
use spawned_concurrency::tasks::{Actor, Context, Handler, send_after, spawn_listener};
use tokio::sync::mpsc;

use crate::{chain_read::ChainReadError, proposal_store::ProposalStore};
use config::BridgeConfig;
use intake::{recover, simulate_and_record};
use protocol::{
    Bind, Facts, Incoming, ReadFacts, Recovered, Resume, SimDone, Sweep, Swept, TakeReadyOps,
};
use rpc::{Accepted, ChainLookup, RpcState};
use simulate::MessageRoute;
use status::{ReadyOp, StatusStore, UserOpStatus};

/// Simulations run at once.
const MAX_SIMULATIONS: usize = 8;
/// Time between sweeps of expired final statuses.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What the BridgeHandler needs.
#[derive(Clone)]
pub struct BridgeSetup {
    /// RPC and retention settings.
    pub config: BridgeConfig,
    /// Durable statuses.
    pub statuses: StatusStore,
    /// Unlanded proposals (which ops they carry).
    pub proposals: ProposalStore,
    /// L1 reads and simulations.
    pub l1: RpcEndpoint,
    /// L2 reads.
    pub l2: RpcEndpoint,
    /// The RealTimeInbox.
    pub inbox: Address,
    /// Why ops cannot run on this node (PRECONF_ONLY, no cross-chain contracts), if so.
    pub disabled: Option<String>,
    /// Retry delay.
    pub retry: Duration,
    /// The proposer EOA (the sender of the Multicall that the L1 simulations trace).
    pub proposer: Address,
    /// The L2 pool (the txs ahead of a predicted answer).
    pub engine: common::engine::EngineClient,
}

/// Facts read from the chains once.
struct Route {
    l1: DynProvider,
    multicall: Address,
    route: MessageRoute,
}

/// The `surge_*` RPC server and the L1 simulations of user ops.
pub struct BridgeHandler {
    setup: BridgeSetup,
    link: ChildLink,
    server: Option<ServerHandle>,
    route: Option<Route>,
    queue: VecDeque<Accepted>,
    simulating: usize,
    retry: Backoff,
    paused: bool,
}

impl BridgeHandler {
    /// A BridgeHandler reporting to its supervisor through `link`.
    pub fn new(setup: BridgeSetup, link: ChildLink) -> Self {
        Self {
            retry: Backoff::new(setup.retry, Duration::from_secs(30).max(setup.retry)),
            setup,
            link,
            server: None,
            route: None,
            queue: VecDeque::new(),
            simulating: 0,
            paused: false,
        }
    }
}

impl Actor for BridgeHandler {
    async fn started(&mut self, ctx: &Context<Self>) {
        self.link.attach();
        let _ = ctx.send(Bind);
    }

    async fn stopped(&mut self, _: &Context<Self>) {
        if let Some(server) = self.server.take() {
            let _ = server.stop();
        }
    }
}

impl Handler<Bind> for BridgeHandler {
    async fn handle(&mut self, _: Bind, ctx: &Context<Self>) {
        let (accepted, incoming) = mpsc::unbounded_channel();
        let state = RpcState {
            statuses: self.setup.statuses.clone(),
            accepted,
            chain: Some(ChainLookup::new(
                self.setup.l1.clone(),
                self.setup.l2.clone(),
                self.setup.inbox,
            )),
            disabled: self.setup.disabled.clone(),
            returns: self
                .setup
                .config
                .contracts
                .filter(|_| self.setup.disabled.is_none())
                .map(|contracts| rpc::return_message::ReturnSim {
                    l1: self.setup.l1.clone(),
                    l2: self.setup.l2.clone(),
                    inbox: self.setup.inbox,
                    contracts,
                    proposer: self.setup.proposer,
                    statuses: self.setup.statuses.clone(),
                    proposals: self.setup.proposals.clone(),
                    engine: self.setup.engine.clone(),
                    facts: tokio::sync::OnceCell::new(),
                }),
        };
        let addr = self.setup.config.rpc_addr;
        match rpc::serve(addr, self.setup.config.limits, rpc::module(state)).await {
            Ok((bound, server)) => {
                tracing::info!(addr = %bound, "surge_* JSON-RPC listening (HTTP and WS)");
                self.server = Some(server);
                let ops = futures::stream::unfold(incoming, |mut incoming| async move {
                    incoming.recv().await.map(|op| (Incoming(op), incoming))
                });
                spawn_listener(ctx.clone(), ops);
                let _ = ctx.send(ReadFacts);
                send_after(SWEEP_EVERY, ctx.clone(), Sweep);
            }
            Err(error) => {
                let delay = self.retry.next_delay();
                tracing::error!(%addr, %error, retry_in_ms = delay.as_millis() as u64,
                    "cannot listen on BRIDGE_RPC_ADDR (in use by another process?); retrying");
                send_after(delay, ctx.clone(), Bind);
            }
        }
    }
}

impl Handler<ReadFacts> for BridgeHandler {
    async fn handle(&mut self, _: ReadFacts, ctx: &Context<Self>) {
        let Some(contracts) = self.setup.config.contracts else {
            // No route: nothing is simulated; recovery still settles old ops.
            self.recover(ctx);
            return;
        };
        let setup = self.setup.clone();
        let work = async move {
            async {
                let l1 = setup.l1.connect().await.map_err(ChainReadError::Connect)?;
                let l2 = setup.l2.connect().await.map_err(ChainReadError::Connect)?;
                let config = setup
                    .l1
                    .call(IRealTimeInbox::new(setup.inbox, &l1).getConfig().call())
                    .await
                    .map_err(ChainReadError::InboxConfig)?;
                let l2_chain_id = setup
                    .l2
                    .call(l2.get_chain_id())
                    .await
                    .map_err(ChainReadError::L2ChainId)?;
                Ok(Route {
                    l1,
                    multicall: contracts.multicall,
                    route: MessageRoute {
                        bridge: contracts.l1_bridge,
                        signal_service: config.signalService,
                        dest_chain_id: l2_chain_id,
                    },
                })
            }
            .await
        };
        spawn_reporting(ctx.clone(), work, Facts);
    }
}

impl Handler<Facts> for BridgeHandler {
    async fn handle(&mut self, Facts(facts): Facts, ctx: &Context<Self>) {
        let facts = facts.map_err(|panic| panic.to_string());
        match facts.and_then(|f| f.map_err(|e| e.to_string())) {
            Ok(route) => {
                tracing::info!(l1_bridge = %route.route.bridge, l1_signal_service = %route.route.signal_service,
                    l2_chain_id = route.route.dest_chain_id, "user-op simulations ready");
                self.route = Some(route);
                self.recover(ctx);
            }
            Err(error) => {
                let delay = self.retry.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64,
                    "cannot read what user-op simulations need yet; retrying (statuses are served meanwhile)");
                send_after(delay, ctx.clone(), ReadFacts);
            }
        }
    }
}

impl BridgeHandler {
    /// Settles ops a previous run left unfinished, on a task; the ones to simulate come back.
    fn recover(&self, ctx: &Context<Self>) {
        let statuses = self.setup.statuses.clone();
        let proposals = self.setup.proposals.clone();
        let disabled = self.setup.disabled.clone();
        let work = async move { recover(&statuses, &proposals, disabled).await };
        spawn_reporting(ctx.clone(), work, Recovered);
    }

    /// Starts simulations while there is room.
    fn pump(&mut self, ctx: &Context<Self>) {
        let Some(route) = &self.route else {
            return;
        };
        while !self.paused && self.simulating < MAX_SIMULATIONS {
            let Some(op) = self.queue.pop_front() else {
                return;
            };
            self.simulating += 1;
            let (l1, provider, from, route) = (
                self.setup.l1.clone(),
                route.l1.clone(),
                route.multicall,
                route.route,
            );
            let statuses = self.setup.statuses.clone();
            let accepted = op.clone();
            let work = async move {
                simulate_and_record(&l1, &provider, from, &route, &statuses, &op).await
            };
            spawn_reporting(ctx.clone(), work, move |retry| SimDone {
                op: accepted,
                retry,
            });
        }
    }
}

impl Handler<Recovered> for BridgeHandler {
    async fn handle(&mut self, Recovered(outcome): Recovered, ctx: &Context<Self>) {
        let outcome = outcome.map_err(|panic| panic.to_string());
        match outcome.and_then(|o| o.map_err(|e| e.to_string())) {
            Ok(again) => {
                if !again.is_empty() {
                    tracing::info!(
                        ops = again.len(),
                        "simulating user ops accepted before the restart"
                    );
                }
                // Older first: they were accepted before anything queued now.
                for op in again.into_iter().rev() {
                    self.queue.push_front(op);
                }
                self.pump(ctx);
            }
            Err(error) => {
                tracing::warn!(%error, "cannot settle the user ops of the previous run yet; retrying");
                send_after(self.setup.retry, ctx.clone(), ReadFacts);
            }
        }
    }
}

impl Handler<Incoming> for BridgeHandler {
    async fn handle(&mut self, Incoming(op): Incoming, ctx: &Context<Self>) {
        crate::metrics::bridge().user_ops_accepted.inc();
        self.queue.push_back(op);
        self.pump(ctx);
    }
}

impl Handler<SimDone> for BridgeHandler {
    async fn handle(&mut self, done: SimDone, ctx: &Context<Self>) {
        self.simulating = self.simulating.saturating_sub(1);
        let retry = match done.retry {
            Ok(retry) => retry,
            Err(panic) => {
                tracing::error!(user_op = %done.op.id, %panic, "simulating a user op panicked; rejecting it");
                self.setup.statuses.set_soon(
                    &[done.op.id.into()],
                    UserOpStatus::Rejected {
                        reason: format!("the node could not simulate it ({panic}); it did not run"),
                    },
                );
                false
            }
        };
        if retry {
            self.queue.push_front(done.op);
            if !self.paused {
                self.paused = true;
                send_after(self.retry.next_delay(), ctx.clone(), Resume);
            }
            return;
        }
        self.retry.reset();
        self.pump(ctx);
    }
}

impl Handler<TakeReadyOps> for BridgeHandler {
    async fn handle(
        &mut self,
        TakeReadyOps { max }: TakeReadyOps,
        _: &Context<Self>,
    ) -> Result<Vec<ReadyOp>, status::StatusError> {
        // A local read of the ready keyspace: fast, so answered inside the handler.
        self.setup.statuses.ready_ops(max)
    }
}

impl Handler<Resume> for BridgeHandler {
    async fn handle(&mut self, _: Resume, ctx: &Context<Self>) {
        self.paused = false;
        self.pump(ctx);
    }
}

impl Handler<Sweep> for BridgeHandler {
    async fn handle(&mut self, _: Sweep, ctx: &Context<Self>) {
        let statuses = self.setup.statuses.clone();
        let retention = self.setup.config.retention;
        let work = async move {
            match statuses.sweep(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "expired user-op statuses removed"),
                Err(error) => tracing::warn!(%error, "expired user-op statuses not removed"),
            }
        };
        spawn_reporting(ctx.clone(), work, Swept);
    }
}

impl Handler<Swept> for BridgeHandler {
    async fn handle(&mut self, Swept(outcome): Swept, ctx: &Context<Self>) {
        if let Err(panic) = outcome {
            tracing::error!(%panic, "sweeping expired user-op statuses panicked; trying again later");
        }
        // The next sweep is scheduled only after this one ended, so sweeps never overlap.
        send_after(SWEEP_EVERY, ctx.clone(), Sweep);
    }
}
