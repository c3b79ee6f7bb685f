//! The ChainMonitor actor: polls the L1 and L2 heads and the inbox's finalized L2 head every
//! heartbeat, and publishes what it sees. An endpoint that does not answer is retried with an
//! exponential backoff; the actor itself keeps running (an outage is not a crash).
//!
//! RPC calls run on spawned tasks and come back as messages, so a slow endpoint never blocks a
//! caller asking for the status.

use std::{sync::Arc, time::Duration};

use alloy::{
    primitives::{Address, B256},
    providers::DynProvider,
};
use bindings::IRealTimeInbox;
use common::{
    backoff::Backoff,
    health::{ChainStatus, EndpointHealth},
    metrics,
    rpc::{RpcEndpoint, RpcError},
    supervisor::ChildLink,
};
use spawned_concurrency::{
    message::Message,
    tasks::{Actor, Context, Handler, send_after},
};
use tokio::{sync::watch, time::Instant};

/// Longest wait between two attempts on an endpoint that is down.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

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
}

/// Polls both chains and publishes a [`ChainStatus`].
pub struct ChainMonitor {
    setup: ChainMonitorSetup,
    link: ChildLink,
    l1_provider: Option<DynProvider>,
    l2_provider: Option<DynProvider>,
    l1_retry: Backoff,
    l2_retry: Backoff,
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
        }
    }
}

/// Asks for the latest published status.
pub struct GetChainStatus;
impl Message for GetChainStatus {
    type Result = ChainStatus;
}

/// Time to poll a chain.
#[derive(Clone, Copy)]
struct Poll(Chain);
impl Message for Poll {
    type Result = ();
}

/// A poll's outcome, delivered back to the actor.
struct Polled {
    chain: Chain,
    outcome: Result<Observation, RpcError>,
}
impl Message for Polled {
    type Result = ();
}

struct Observation {
    provider: DynProvider,
    head: u64,
    /// L1 only: the inbox's finalized L2 head.
    finalized: Option<Result<B256, String>>,
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
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let outcome = observe(&endpoint, provider, inbox).await;
            // The actor may have stopped meanwhile; then nobody needs the answer.
            let _ = ctx.send(Polled { chain, outcome });
        });
    }
}

async fn observe(
    endpoint: &RpcEndpoint,
    provider: Option<DynProvider>,
    inbox: Option<Address>,
) -> Result<Observation, RpcError> {
    let provider = match provider {
        Some(p) => p,
        None => endpoint.connect().await?,
    };
    let head = endpoint.block_number(&provider).await?;
    let finalized = match inbox {
        Some(inbox) => {
            let contract = IRealTimeInbox::new(inbox, &provider);
            Some(
                endpoint
                    .call(contract.getLastFinalizedBlockHash().call())
                    .await
                    .map_err(|e| {
                        format!("reading getLastFinalizedBlockHash() of the inbox at {inbox}: {e}")
                    }),
            )
        }
        None => None,
    };
    Ok(Observation {
        provider,
        head,
        finalized,
    })
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
                *provider_slot = Some(observation.provider);
                retry.reset();
                metrics::common()
                    .chain_head
                    .with_label_values(&[chain.label()])
                    .set(observation.head as i64);
                self.setup.status.send_modify(|s| {
                    let health = endpoint_of(s, chain);
                    health.head = Some(observation.head);
                    health.last_ok = Some(Instant::now());
                    health.consecutive_failures = 0;
                    health.last_error = None;
                    match observation.finalized {
                        Some(Ok(hash)) => {
                            s.last_finalized_l2_block_hash = Some(hash);
                            s.finality_error = None;
                        }
                        Some(Err(e)) => s.finality_error = Some(e),
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

fn endpoint_of(status: &mut ChainStatus, chain: Chain) -> &mut EndpointHealth {
    match chain {
        Chain::L1 => &mut status.l1,
        Chain::L2 => &mut status.l2,
    }
}
