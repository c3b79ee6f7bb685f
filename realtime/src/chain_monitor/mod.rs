//! The ChainMonitor actor: polls the L1 and L2 heads and the inbox's finalized L2 head every
//! heartbeat, tracks the inbox's `ProposedAndProved` logs across L1 reorgs, and publishes what
//! it sees: the status (a watch), and [`L1Head`], [`ProposalLanded`] and [`ProposalReorged`]
//! messages to the actors that subscribed ([`ChainSubscribers`]). An endpoint that does not
//! answer is retried with an exponential backoff; the actor itself keeps running (an outage is
//! not a crash).
//!
//! Logs come from a re-scan on every L1 poll: from the last seen head on, or from
//! [`REORG_WINDOW`] blocks back when that head is no longer canonical, so a log that vanished
//! is reported as reorged. On a websocket L1 a log subscription also runs, for latency; the
//! re-scan stays as the backstop for subscription gaps, and each change is published once.
//! After a restart the first scan re-publishes the window's logs: subscribers treat
//! `ProposalLanded` as idempotent.
//!
//! RPC calls run on spawned tasks and come back as messages, so a slow endpoint never blocks a
//! caller asking for the status.

use std::{sync::Arc, time::Duration};

use alloy::{
    eips::{BlockNumHash, BlockNumberOrTag},
    primitives::Address,
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use bindings::IRealTimeInbox::{self, ProposedAndProved};
use common::{
    backoff::Backoff,
    health::{ChainStatus, EndpointHealth},
    metrics,
    rpc::{RpcEndpoint, RpcError},
    supervisor::{ChildLink, Subscriber},
    work::spawn_reporting,
};
use futures::StreamExt;
use spawned_concurrency::tasks::{Actor, Context, Handler, send_after};
use tokio::{sync::watch, time::Instant};

use crate::{
    forced_inclusion::{self, ForcedQueue},
    landed_proposals::{self, LandedProposal, LandedProposals, ProposalEvent, REORG_WINDOW},
};

mod forced;
pub mod protocol;

pub use protocol::{ForcedInclusions, GetChainStatus, L1Head, ProposalLanded, ProposalReorged};
use protocol::{Observation, Poll, Polled, Streamed, SubscriptionEnd, SubscriptionEnded};

/// Longest wait between two attempts on an endpoint that is down: one cheap call every 5 s
/// costs nothing, and an endpoint that comes back is seen (and `/readyz` is 200) within 5 s.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Which chain a poll is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// The L1 (settlement) chain.
    L1,
    /// The L2 (rollup) chain.
    L2,
}

impl Chain {
    fn label(self) -> &'static str {
        match self {
            Chain::L1 => "l1",
            Chain::L2 => "l2",
        }
    }
}

/// What the monitor needs to run.
#[derive(Clone)]
pub struct ChainMonitorSetup {
    /// The L1 endpoint used for reads.
    pub l1: RpcEndpoint,
    /// The L2 endpoint.
    pub l2: RpcEndpoint,
    /// The L1 RealTimeInbox.
    pub inbox: Address,
    /// Time between two successful polls.
    pub interval: Duration,
    /// Where the monitor publishes; outlives restarts of the actor.
    pub status: Arc<watch::Sender<ChainStatus>>,
    /// Who hears what the monitor sees; reaches restarted subscribers too.
    pub subscribers: ChainSubscribers,
}

/// Who is told of new L1 heads and of proposals landing or reorged out. Each subscriber's
/// mailbox is unbounded, so a slow one falls behind but loses nothing; one that is restarting
/// misses messages and reads the chain afresh when it starts.
#[derive(Clone, Default)]
pub struct ChainSubscribers {
    /// New L1 heads.
    pub l1_heads: Vec<Subscriber<L1Head>>,
    /// Proposals whose `ProposedAndProved` log appeared in a canonical L1 block.
    pub landed: Vec<Subscriber<ProposalLanded>>,
    /// Proposals reported landed whose L1 block was reorged out.
    pub reorged: Vec<Subscriber<ProposalReorged>>,
    /// The forced-inclusion queue, when it changed.
    pub forced: Vec<Subscriber<ForcedInclusions>>,
}

/// Polls both chains and publishes a [`ChainStatus`].
pub struct ChainMonitor {
    setup: ChainMonitorSetup,
    link: ChildLink,
    l1_provider: Option<DynProvider>,
    l2_provider: Option<DynProvider>,
    l1_retry: Backoff,
    l2_retry: Backoff,
    /// The last L1 and L2 heads seen.
    l1_tip: Option<BlockNumHash>,
    l2_tip: Option<BlockNumHash>,
    landed: LandedProposals,
    subscribed: bool,
    /// The forced-inclusion queue last read.
    forced: Option<ForcedQueue>,
}

impl ChainMonitor {
    /// A monitor that reports to its supervisor through `link`.
    pub fn new(setup: ChainMonitorSetup, link: ChildLink) -> Self {
        let retry = || Backoff::new(setup.interval, MAX_RETRY_DELAY.max(setup.interval));
        Self {
            l1_retry: retry(),
            l2_retry: retry(),
            setup,
            link,
            l1_provider: None,
            l2_provider: None,
            l1_tip: None,
            l2_tip: None,
            landed: LandedProposals::new(),
            subscribed: false,
            forced: None,
        }
    }
}

impl Actor for ChainMonitor {
    async fn started(&mut self, ctx: &Context<Self>) {
        self.link.attach();
        self.setup.status.send_modify(|s| {
            s.l1.endpoint = self.setup.l1.display();
            s.l2.endpoint = self.setup.l2.display();
        });
        let _ = ctx.send(Poll(Chain::L1));
        let _ = ctx.send(Poll(Chain::L2));
    }
}

impl Handler<GetChainStatus> for ChainMonitor {
    async fn handle(&mut self, _: GetChainStatus, _: &Context<Self>) -> ChainStatus {
        self.setup.status.borrow().clone()
    }
}

impl Handler<Poll> for ChainMonitor {
    async fn handle(&mut self, Poll(chain): Poll, ctx: &Context<Self>) {
        let (endpoint, provider) = match chain {
            Chain::L1 => (self.setup.l1.clone(), self.l1_provider.clone()),
            Chain::L2 => (self.setup.l2.clone(), self.l2_provider.clone()),
        };
        let inbox = (chain == Chain::L1).then_some(self.setup.inbox);
        let tip = match chain {
            Chain::L1 => self.l1_tip,
            Chain::L2 => None,
        };
        let shown = endpoint.display();
        let delay = self.forced.as_ref().map(|q| q.delay_sec);
        let work = async move { observe(&endpoint, provider, (inbox, delay), tip).await };
        // A poll that panicked is a failed poll: retried after the usual backoff.
        spawn_reporting(ctx.clone(), work, move |outcome| Polled {
            chain,
            outcome: outcome
                .map_err(|panic| RpcError::Failed {
                    endpoint: shown,
                    message: panic.to_string(),
                })
                .and_then(|o| o),
        });
    }
}

/// The inbox's `ProposedAndProved` logs.
fn log_filter(inbox: Address) -> Filter {
    Filter::new()
        .address(inbox)
        .event_signature(ProposedAndProved::SIGNATURE_HASH)
}

fn decode_all(logs: &[Log]) -> Vec<LandedProposal> {
    logs.iter()
        .filter_map(|log| match landed_proposals::decode(log) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an inbox log");
                None
            }
        })
        .collect()
}

async fn observe(
    endpoint: &RpcEndpoint,
    provider: Option<DynProvider>,
    (inbox, forced_delay): (Option<Address>, Option<u64>),
    tip: Option<BlockNumHash>,
) -> Result<Observation, RpcError> {
    let provider = match provider {
        Some(p) => p,
        None => endpoint.connect().await?,
    };
    let block = endpoint
        .call(provider.get_block_by_number(BlockNumberOrTag::Latest))
        .await?
        .ok_or_else(|| RpcError::Failed {
            endpoint: endpoint.display(),
            message: "no latest block".into(),
        })?;
    let head = BlockNumHash {
        number: block.header.number,
        hash: block.header.hash,
    };
    let Some(inbox) = inbox else {
        return Ok(Observation {
            provider,
            head,
            finalized: None,
            logs: None,
            forced: None,
        });
    };
    let contract = IRealTimeInbox::new(inbox, &provider);
    let finalized = endpoint
        .call(contract.getLastFinalizedBlockHash().call())
        .await;
    // Re-scan from the last head if it is still canonical, else from the reorg window's start.
    let from = match tip {
        Some(BlockNumHash { number, hash }) => {
            let canonical = endpoint
                .call(provider.get_block_by_number(BlockNumberOrTag::Number(number)))
                .await?
                .map(|b| b.header.hash);
            if canonical == Some(hash) {
                number + 1
            } else {
                number.saturating_sub(REORG_WINDOW)
            }
        }
        None => head.number.saturating_sub(REORG_WINDOW),
    };
    let logs = if from <= head.number {
        let filter = log_filter(inbox).from_block(from).to_block(head.number);
        let logs = endpoint.call(provider.get_logs(&filter)).await?;
        Some((from, head.number, decode_all(&logs)))
    } else {
        None
    };
    let forced = forced_inclusion::read_queue(endpoint, &provider, inbox, forced_delay).await;
    Ok(Observation {
        provider,
        head,
        finalized: Some(finalized),
        logs,
        forced: Some(forced),
    })
}

/// Streams the inbox's logs into the actor until the subscription ends.
fn subscribe(provider: DynProvider, inbox: Address, ctx: Context<ChainMonitor>) {
    let forward = ctx.clone();
    let listen = async move {
        match provider.subscribe_logs(&log_filter(inbox)).await {
            Ok(subscription) => {
                let mut stream = subscription.into_stream();
                while let Some(log) = stream.next().await {
                    if forward.send(Streamed(log)).is_err() {
                        return SubscriptionEnd::MonitorStopped;
                    }
                }
                SubscriptionEnd::Closed
            }
            Err(e) => SubscriptionEnd::Refused(e),
        }
    };
    spawn_reporting(ctx, listen, SubscriptionEnded);
}

impl ChainMonitor {
    fn publish(&self, events: impl IntoIterator<Item = ProposalEvent>) {
        for event in events {
            match &event {
                ProposalEvent::Landed(p) => tracing::info!(
                    proposal = %p.proposal_hash,
                    l1_block = p.l1_block.number,
                    checkpoint = p.checkpoint.number,
                    "proposal landed on L1"
                ),
                ProposalEvent::Reorged(p) => tracing::warn!(
                    proposal = %p.proposal_hash,
                    l1_block = p.l1_block.number,
                    "proposal's L1 block was reorged out"
                ),
            }
            // A subscriber that is restarting reads the inbox afresh when it starts.
            match event {
                ProposalEvent::Landed(p) => {
                    for to in &self.setup.subscribers.landed {
                        let _ = to.send(ProposalLanded(p.clone()));
                    }
                }
                ProposalEvent::Reorged(p) => {
                    for to in &self.setup.subscribers.reorged {
                        let _ = to.send(ProposalReorged(p.clone()));
                    }
                }
            }
        }
    }
}

impl Handler<Streamed> for ChainMonitor {
    async fn handle(&mut self, Streamed(log): Streamed, _: &Context<Self>) {
        match landed_proposals::decode(&log) {
            Ok(p) => {
                let event = self.landed.streamed(p, log.removed);
                self.publish(event);
            }
            Err(e) => tracing::warn!(error = %e, "ignoring a streamed inbox log"),
        }
    }
}

impl Handler<SubscriptionEnded> for ChainMonitor {
    async fn handle(&mut self, SubscriptionEnded(ended): SubscriptionEnded, _: &Context<Self>) {
        match ended {
            Ok(reason) => tracing::warn!(%reason,
                "L1 log subscription ended; polling covers the gap, re-subscribing"),
            Err(panic) => tracing::error!(%panic,
                "L1 log subscription task lost; polling covers the gap, re-subscribing"),
        }
        self.subscribed = false;
    }
}

impl Handler<Polled> for ChainMonitor {
    async fn handle(&mut self, msg: Polled, ctx: &Context<Self>) {
        let chain = msg.chain;
        let (provider_slot, retry) = match chain {
            Chain::L1 => (&mut self.l1_provider, &mut self.l1_retry),
            Chain::L2 => (&mut self.l2_provider, &mut self.l2_retry),
        };
        let next = match msg.outcome {
            Ok(observation) => {
                *provider_slot = Some(observation.provider.clone());
                retry.reset();
                let BlockNumHash { number, hash } = observation.head;
                metrics::common()
                    .chain_head
                    .with_label_values(&[chain.label()])
                    .set(number as i64);
                let tip = match chain {
                    Chain::L1 => &mut self.l1_tip,
                    Chain::L2 => &mut self.l2_tip,
                };
                if *tip != Some(observation.head) {
                    *tip = Some(observation.head);
                    if chain == Chain::L1 {
                        let head = L1Head(BlockNumHash { number, hash });
                        for to in &self.setup.subscribers.l1_heads {
                            let _ = to.send(head);
                        }
                    }
                }
                if let Some(forced) = observation.forced {
                    self.forced_read(forced);
                }
                if let Some((from, to, logs)) = observation.logs {
                    let events = self.landed.rescan(from, to, logs);
                    self.publish(events);
                }
                if chain == Chain::L1 && self.setup.l1.is_ws() && !self.subscribed {
                    self.subscribed = true;
                    subscribe(observation.provider, self.setup.inbox, ctx.clone());
                }
                endpoint_up(chain, true);
                self.setup.status.send_modify(|s| {
                    let health = endpoint_of(s, chain);
                    health.head = Some(number);
                    health.last_ok = Some(Instant::now());
                    health.consecutive_failures = 0;
                    health.last_error = None;
                    match observation.finalized {
                        Some(Ok(hash)) => {
                            s.last_finalized_l2_block_hash = Some(hash);
                            s.finality_error = None;
                        }
                        Some(Err(e)) => {
                            s.finality_error = Some(format!(
                                "reading getLastFinalizedBlockHash() of the inbox at {}: {e}",
                                self.setup.inbox
                            ))
                        }
                        None => {}
                    }
                });
                self.setup.interval
            }
            Err(error) => {
                // Drop the connection so a websocket endpoint is dialled afresh next time.
                *provider_slot = None;
                let delay = retry.next_delay();
                metrics::common()
                    .rpc_failures
                    .with_label_values(&[chain.label()])
                    .inc();
                endpoint_up(chain, false);
                let mut failures = 0;
                self.setup.status.send_modify(|s| {
                    let health = endpoint_of(s, chain);
                    health.consecutive_failures += 1;
                    health.last_error = Some(error.to_string());
                    failures = health.consecutive_failures;
                });
                tracing::warn!(
                    chain = chain.label(),
                    %error,
                    failures,
                    retry_in_ms = delay.as_millis() as u64,
                    "chain endpoint did not answer; retrying with backoff"
                );
                delay
            }
        };
        send_after(next, ctx.clone(), Poll(chain));
    }
}

/// Sets `endpoint_up` for `chain`.
fn endpoint_up(chain: Chain, up: bool) {
    let gauge = metrics::common()
        .endpoint_up
        .with_label_values(&[chain.label()]);
    gauge.set(i64::from(up));
}

fn endpoint_of(status: &mut ChainStatus, chain: Chain) -> &mut EndpointHealth {
    match chain {
        Chain::L1 => &mut status.l1,
        Chain::L2 => &mut status.l2,
    }
}
