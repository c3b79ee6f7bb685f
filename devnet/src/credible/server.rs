//! The sidecar stand-in's gRPC service (`sidecar.transport.v1.SidecarTransport`) around
//! [`SidecarState`], as credible-sdk's `crates/sidecar/src/transport/grpc/server.rs` serves it:
//! one ack per event on `StreamEvents` (a refused event: a failed ack, then the stream ends),
//! results pushed live on `SubscribeResults` (no replay), and `GetTransaction(s)` as
//! non-blocking lookups gated on the first CommitHead. Events are executed after their ack, in
//! order, by one engine task, as the real engine thread does.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
};

use alloy::providers::DynProvider;
use common::credible_layer::wire::{
    BlockEnv, Event, GetTransactionRequest, GetTransactionResponse, GetTransactionsRequest,
    GetTransactionsResponse, StreamAck, SubscribeResultsRequest, TransactionResult, TxExecutionId,
    event, get_transaction_response::Outcome, sidecar_transport_server::SidecarTransport,
};
use futures::{Stream, StreamExt};
use tokio::sync::{broadcast, mpsc};
use tonic::{Request, Response, Status, Streaming};

use super::{
    exec::{self, Effects, OwnerAssertion},
    state::{SidecarState, Step, Verdict},
};

/// Results a slow subscriber may fall behind by before it loses some (upstream: 16384).
const RESULTS_BUFFER: usize = 16_384;

/// A stream the service returns.
type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// State shared by the service's handlers and its engine task.
pub struct Shared {
    state: Mutex<SidecarState<Effects>>,
    engine: mpsc::UnboundedSender<event::Event>,
    results: broadcast::Sender<TransactionResult>,
}

impl Shared {
    /// The protocol state (a poisoned lock is still usable: the state is only counters and maps).
    pub fn state(&self) -> MutexGuard<'_, SidecarState<Effects>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The gRPC service.
#[derive(Clone)]
pub struct Service(pub Arc<Shared>);

impl Service {
    /// A service whose engine runs txs on `l2` with `assertion` (no L2: every tx passes at
    /// once, to measure the protocol alone); the engine task runs on the caller's runtime.
    pub fn start(l2: Option<DynProvider>, assertion: OwnerAssertion) -> Self {
        let (engine, queue) = mpsc::unbounded_channel();
        let (results, _) = broadcast::channel(RESULTS_BUFFER);
        let shared = Arc::new(Shared {
            state: Mutex::new(SidecarState::new()),
            engine,
            results,
        });
        tokio::spawn(run_engine(shared.clone(), queue, l2, assertion));
        Self(shared)
    }
}

fn u64_of(bytes: &[u8]) -> u64 {
    alloy::primitives::U256::try_from_be_slice(bytes)
        .unwrap_or_default()
        .saturating_to()
}

/// Applies accepted events in order; a tx runs on the L2 between `apply` and `executed`.
async fn run_engine(
    shared: Arc<Shared>,
    mut queue: mpsc::UnboundedReceiver<event::Event>,
    l2: Option<DynProvider>,
    assertion: OwnerAssertion,
) {
    let mut envs: HashMap<(u64, u64), BlockEnv> = HashMap::new();
    while let Some(payload) = queue.recv().await {
        if let event::Event::NewIteration(iteration) = &payload
            && let Some(env) = &iteration.block_env
        {
            envs.insert((u64_of(&env.number), iteration.iteration_id), env.clone());
        }
        if let event::Event::CommitHead(commit) = &payload {
            let block = u64_of(&commit.block_number);
            envs.retain(|(number, _), _| *number > block);
        }
        let step = shared.state().apply(payload);
        let Step::Run(tx) = step else { continue };
        let Some(id) = tx.tx_execution_id.clone() else {
            continue;
        };
        let block = u64_of(&id.block_number);
        let earlier = shared.state().fork_effects(block, id.iteration_id);
        let (verdict, effects) = match (envs.get(&(block, id.iteration_id)), &l2) {
            (Some(env), Some(l2)) => {
                let parent = block.saturating_sub(1);
                exec::execute(l2, env, parent, &earlier, &tx, assertion)
                    .await
                    .unwrap_or_else(|why| (Verdict::Failed(why), Effects::default()))
            }
            (Some(_), None) => (Verdict::Success, Effects::default()),
            (None, _) => (Verdict::Failed("no block env".into()), Effects::default()),
        };
        let result = result_of(id, &verdict);
        shared.state().executed(&tx, verdict, effects);
        // No subscriber: nobody listens now, and upstream keeps no history either.
        let _ = shared.results.send(result);
    }
}

fn result_of(id: TxExecutionId, verdict: &Verdict) -> TransactionResult {
    TransactionResult {
        tx_execution_id: Some(id),
        status: verdict.status() as i32,
        gas_used: 0,
        error: match verdict {
            Verdict::Failed(why) => format!("Validation error: {why}"),
            _ => String::new(),
        },
    }
}

fn ack(success: bool, message: String, processed: u64, event_id: u64) -> StreamAck {
    StreamAck {
        success,
        message,
        events_processed: processed,
        event_id,
    }
}

/// Acks `inbound`'s events into `acks` until the client closes or an event is refused.
async fn serve_stream(
    shared: Arc<Shared>,
    mut inbound: Streaming<Event>,
    acks: mpsc::Sender<Result<StreamAck, Status>>,
) {
    let mut processed = 0;
    loop {
        let reply = match inbound.message().await {
            Ok(Some(event)) => {
                let id = event.event_id;
                let accepted = shared.state().accept(event);
                match accepted {
                    Ok(None) => ack(true, String::new(), processed, id),
                    Ok(Some(payload)) => {
                        processed += 1;
                        let _ = shared.engine.send(payload);
                        ack(true, String::new(), processed, id)
                    }
                    Err(refusal) => {
                        let _ = acks
                            .send(Ok(ack(false, refusal.to_string(), processed, id)))
                            .await;
                        return;
                    }
                }
            }
            Ok(None) => {
                let _ = acks
                    .send(Ok(ack(true, "stream completed".into(), processed, 0)))
                    .await;
                return;
            }
            Err(status) => {
                let _ = acks.send(Err(status)).await;
                return;
            }
        };
        if acks.send(Ok(reply)).await.is_err() {
            return;
        }
    }
}

fn lookup(shared: &Shared, id: &TxExecutionId) -> Result<TransactionResult, Vec<u8>> {
    match shared.state().result(id) {
        Some(verdict) => Ok(result_of(id.clone(), verdict)),
        None => Err(id.tx_hash.clone()),
    }
}

fn gate(shared: &Shared) -> Result<(), Status> {
    if shared.state().commit_head_seen() {
        Ok(())
    } else {
        Err(Status::failed_precondition(
            "commit head must be received before other events",
        ))
    }
}

#[tonic::async_trait]
impl SidecarTransport for Service {
    type StreamEventsStream = Boxed<StreamAck>;
    type SubscribeResultsStream = Boxed<TransactionResult>;

    async fn stream_events(
        &self,
        request: Request<Streaming<Event>>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        let (acks, rx) = mpsc::channel(256);
        tokio::spawn(serve_stream(self.0.clone(), request.into_inner(), acks));
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn subscribe_results(
        &self,
        request: Request<SubscribeResultsRequest>,
    ) -> Result<Response<Self::SubscribeResultsStream>, Status> {
        let from = match request.into_inner().from_block {
            Some(bytes) if !bytes.is_empty() && bytes.len() != 32 => {
                return Err(Status::invalid_argument("from_block must be 32 bytes"));
            }
            Some(bytes) if !bytes.is_empty() => u64_of(&bytes),
            _ => 0,
        };
        let rx = self.0.results.subscribe();
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(result) => return Some((result, rx)),
                    // A lagging subscriber loses results, as upstream's does.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .filter(move |result| {
            let block = result
                .tx_execution_id
                .as_ref()
                .map(|id| u64_of(&id.block_number))
                .unwrap_or_default();
            futures::future::ready(block >= from)
        })
        .map(Ok);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_transactions(
        &self,
        request: Request<GetTransactionsRequest>,
    ) -> Result<Response<GetTransactionsResponse>, Status> {
        gate(&self.0)?;
        let mut response = GetTransactionsResponse::default();
        for id in &request.into_inner().tx_execution_ids {
            match lookup(&self.0, id) {
                Ok(result) => response.results.push(result),
                Err(hash) => response.not_found.push(hash),
            }
        }
        Ok(Response::new(response))
    }

    async fn get_transaction(
        &self,
        request: Request<GetTransactionRequest>,
    ) -> Result<Response<GetTransactionResponse>, Status> {
        gate(&self.0)?;
        let id = request
            .into_inner()
            .tx_execution_id
            .ok_or_else(|| Status::invalid_argument("tx_execution_id is required"))?;
        let outcome = match lookup(&self.0, &id) {
            Ok(result) => Outcome::Result(result),
            Err(hash) => Outcome::NotFound(hash),
        };
        Ok(Response::new(GetTransactionResponse {
            outcome: Some(outcome),
        }))
    }
}
