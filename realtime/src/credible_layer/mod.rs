//! The CredibleLayerClient actor: checks each block's txs against the Phylax Credible Layer
//! sidecar's assertions before the block goes to the driver, and moves the sidecar's head with
//! every block the driver inserted (`CommitHead`). The protocol is credible-sdk's
//! `sidecar.transport.v1` (see docs/research/credible-layer-sidecar.md).
//!
//! Liveness comes first: a block never waits longer than its budget, and an unreachable,
//! slow or confused sidecar means "include" (fail-open), counted by cause. Only an explicit
//! `ASSERTION_FAILED` leaves a user tx out. Nothing here waits on the network inside a
//! handler: connecting, both streams and the `GetTransactions` fallback run on tasks that
//! report back as messages.

pub mod ask;
pub mod check;
pub mod config;
pub mod connection;
pub mod encode;
pub mod metrics;
pub mod protocol;
mod session;

use std::collections::HashMap;

use alloy::primitives::B256;
use common::{
    backoff::Backoff,
    credible_layer::wire::{Event, event},
    rpc::RpcEndpoint,
    supervisor::ChildLink,
    work::spawn_reporting,
};
use spawned_concurrency::tasks::{Actor, Context, Handler, send_after};

use check::FailOpen;
use config::CredibleLayerConfig;
use connection::{Link, StreamEnd};
pub use encode::CommittedBlock;
use protocol::{Acked, Connect, Connected, StreamEnded, Verdict};
pub use protocol::{BlockCommitted, CheckBlock, CheckReply};
use session::Running;

/// What the client needs to run.
#[derive(Clone)]
pub struct CredibleLayerSetup {
    /// Endpoint and budgets.
    pub config: CredibleLayerConfig,
    /// The L2, for the head the first CommitHead names.
    pub l2: RpcEndpoint,
}

/// The open connection.
struct Live {
    client: common::credible_layer::wire::sidecar_transport_client::SidecarTransportClient<
        tonic::transport::Channel,
    >,
    events: futures::channel::mpsc::UnboundedSender<Event>,
    /// The two stream listeners: stopped with the connection, so a dropped connection's
    /// results stream does not live on.
    listeners: Vec<tokio::task::AbortHandle>,
}

impl Drop for Live {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

/// Talks to the sidecar for the batch manager.
pub struct CredibleLayerClient {
    setup: CredibleLayerSetup,
    link: ChildLink,
    live: Option<Live>,
    connecting: bool,
    /// Bumped on every (dis)connection: messages of an older connection are ignored.
    generation: u64,
    /// Event ids and iteration ids start at the creation time in microseconds: the sidecar
    /// de-duplicates ids service-wide, across our restarts.
    next_event: u64,
    next_iteration: u64,
    retry: Backoff,
    last_committed: Option<CommittedBlock>,
    running: Option<Running>,
    seq: u64,
    /// Txs dropped for an assertion → the first block they may be sent in again.
    held: HashMap<B256, u64>,
}

impl CredibleLayerClient {
    /// A client that reports to its supervisor through `link`.
    pub fn new(setup: CredibleLayerSetup, link: ChildLink) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(1);
        let budget = setup.config.block_budget;
        Self {
            setup,
            link,
            live: None,
            connecting: false,
            generation: 0,
            next_event: seed,
            next_iteration: seed,
            retry: Backoff::new(
                budget.max(std::time::Duration::from_millis(200)),
                std::time::Duration::from_secs(10),
            ),
            last_committed: None,
            running: None,
            seq: 0,
            held: HashMap::new(),
        }
    }

    /// Sends one event; false when there is no stream.
    fn send(&mut self, payload: event::Event) -> bool {
        let Some(live) = &self.live else {
            return false;
        };
        let event = Event {
            event_id: self.next_event,
            event: Some(payload),
        };
        self.next_event += 1;
        live.events.unbounded_send(event).is_ok()
    }

    fn commit_head(&mut self, block: CommittedBlock) {
        self.send(event::Event::CommitHead(encode::commit_head(&block)));
    }

    fn down(&mut self, why: &str, ctx: &Context<Self>) {
        self.live = None;
        self.generation += 1;
        metrics::credible_layer().sidecar_up.set(0);
        if let Some(running) = &self.running {
            let cause = match running.first {
                Some(_) => FailOpen::Disconnected,
                None => FailOpen::StreamLost,
            };
            let judgement = running.check.give_up(cause);
            self.finish(judgement);
        }
        let delay = self.retry.next_delay();
        tracing::warn!(
            reason = why,
            retry_in_ms = delay.as_millis() as u64,
            "Credible Layer sidecar not connected; blocks include every tx until it is back"
        );
        send_after(delay, ctx.clone(), Connect);
    }
}

impl Actor for CredibleLayerClient {
    async fn started(&mut self, ctx: &Context<Self>) {
        self.link.attach();
        metrics::credible_layer().sidecar_up.set(0);
        self.connect(ctx);
    }
}

impl Handler<Connect> for CredibleLayerClient {
    async fn handle(&mut self, _: Connect, ctx: &Context<Self>) {
        self.connect(ctx);
    }
}

impl CredibleLayerClient {
    fn connect(&mut self, ctx: &Context<Self>) {
        if self.live.is_some() || self.connecting {
            return;
        }
        self.connecting = true;
        let work = connection::connect(self.setup.config.url.clone(), self.setup.l2.clone());
        spawn_reporting(ctx.clone(), work, Connected);
    }
}

impl Handler<Connected> for CredibleLayerClient {
    async fn handle(&mut self, Connected(outcome): Connected, ctx: &Context<Self>) {
        self.connecting = false;
        let link: Link = match outcome {
            Ok(Ok(link)) => link,
            Ok(Err(error)) => return self.down(&error.to_string(), ctx),
            Err(panic) => return self.down(&panic.to_string(), ctx),
        };
        self.generation += 1;
        let generation = self.generation;
        let Link {
            client,
            events,
            acks,
            results,
            head,
        } = link;
        self.retry.reset();
        metrics::credible_layer().sidecar_up.set(1);
        let acks_to = ctx.clone();
        let acks_work = connection::listen(
            acks,
            |ack: &common::credible_layer::wire::StreamAck| {
                (!ack.success).then(|| (ack.event_id, ack.message.clone()))
            },
            move |ack| acks_to.send(Acked { generation, ack }).is_ok(),
        );
        let acks_listener = spawn_reporting(ctx.clone(), acks_work, move |outcome| StreamEnded {
            generation,
            outcome,
        });
        let results_to = ctx.clone();
        let results_work = connection::listen(
            results,
            |_| None,
            move |result| results_to.send(Verdict { generation, result }).is_ok(),
        );
        let results_listener =
            spawn_reporting(ctx.clone(), results_work, move |outcome| StreamEnded {
                generation,
                outcome,
            });
        self.live = Some(Live {
            client,
            events,
            listeners: vec![acks_listener, results_listener],
        });
        // The sidecar needs a CommitHead before anything else (and cannot tell us whether it
        // restarted): the newest block we know of.
        let head = match self.last_committed {
            Some(ours) if ours.number >= head.number => ours,
            _ => head,
        };
        tracing::info!(url = %common::rpc::redact_url(&self.setup.config.url), head = head.number,
            "connected to the Credible Layer sidecar");
        self.commit_head(head);
        self.begin(ctx);
    }
}

impl Handler<Acked> for CredibleLayerClient {
    async fn handle(&mut self, Acked { generation, ack }: Acked, _: &Context<Self>) {
        if generation == self.generation && !ack.success {
            tracing::warn!(event_id = ack.event_id, message = %ack.message,
                "the Credible Layer sidecar refused an event; reconnecting");
        }
    }
}

impl Handler<Verdict> for CredibleLayerClient {
    async fn handle(&mut self, Verdict { generation, result }: Verdict, _: &Context<Self>) {
        if generation != self.generation {
            return;
        }
        metrics::credible_layer()
            .verdicts
            .with_label_values(&[result.status().as_str_name()])
            .inc();
        self.on_result(&result);
    }
}

impl Handler<StreamEnded> for CredibleLayerClient {
    async fn handle(&mut self, ended: StreamEnded, ctx: &Context<Self>) {
        if ended.generation != self.generation || self.live.is_none() {
            return;
        }
        let why = match ended.outcome {
            Ok(StreamEnd::ClientGone) => return,
            Ok(end) => end.to_string(),
            Err(panic) => panic.to_string(),
        };
        self.down(&format!("a stream to the sidecar ended: {why}"), ctx);
    }
}

impl Handler<BlockCommitted> for CredibleLayerClient {
    async fn handle(&mut self, BlockCommitted(block): BlockCommitted, _: &Context<Self>) {
        self.last_committed = Some(block);
        self.held.retain(|_, until| *until > block.number);
        self.commit_head(block);
    }
}
