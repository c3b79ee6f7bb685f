//! The connection to the sidecar: one `SubscribeResults` stream (opened first, since it has no
//! replay) and one `StreamEvents` stream fed from an unbounded channel. Connecting and both
//! streams' listeners run on tasks that report back to the client as messages.

use std::time::Duration;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::B256,
    providers::{DynProvider, Provider},
};
use common::{
    credible_layer::wire::{
        Event, StreamAck, SubscribeResultsRequest, TransactionResult,
        sidecar_transport_client::SidecarTransportClient,
    },
    rpc::{RpcEndpoint, RpcError},
};
use futures::channel::mpsc;
use tonic::{Streaming, transport::Channel};
use url::Url;

use super::encode::CommittedBlock;

/// How long the TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a whole connection attempt (both streams, the L2 head) may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not one gRPC can use.
    #[error("CREDIBLE_LAYER_URL {url} is not a usable gRPC endpoint: {message}")]
    BadUrl {
        /// Where.
        url: String,
        /// Why.
        message: String,
    },
    /// The endpoint could not be reached.
    #[error("cannot reach the Credible Layer sidecar at {url}: {source}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        source: tonic::transport::Error,
    },
    /// It refused a stream.
    #[error("the Credible Layer sidecar refused the {stream} stream: {status}")]
    Refused {
        /// Which.
        stream: &'static str,
        /// Its answer.
        status: tonic::Status,
    },
    /// The attempt took too long (a sidecar that accepts but does not answer).
    #[error("the Credible Layer sidecar did not open its streams within {0:?}")]
    TimedOut(Duration),
    /// The L2 head (the first CommitHead) could not be read.
    #[error("reading the L2 head for the sidecar's first CommitHead: {0}")]
    L2(RpcError),
}

/// A live connection and its two streams.
pub struct Link {
    /// For unary lookups.
    pub client: SidecarTransportClient<Channel>,
    /// Events go here, in order.
    pub events: mpsc::UnboundedSender<Event>,
    /// Acks of the events.
    pub acks: Streaming<StreamAck>,
    /// Verdicts as the sidecar produces them.
    pub results: Streaming<TransactionResult>,
    /// The L2 head when the connection opened.
    pub head: CommittedBlock,
}

/// Why a stream ended.
#[derive(Debug, thiserror::Error)]
pub enum StreamEnd {
    /// The sidecar closed it.
    #[error("the sidecar closed it")]
    Closed,
    /// It broke.
    #[error("it broke: {0}")]
    Broken(tonic::Status),
    /// The sidecar refused an event and closed the stream.
    #[error("the sidecar refused event {event_id}: {message}")]
    Refused {
        /// The refused event.
        event_id: u64,
        /// The sidecar's reason.
        message: String,
    },
    /// The client is gone.
    #[error("the client stopped")]
    ClientGone,
}

/// Opens both streams and reads the L2 head, within [`ATTEMPT_TIMEOUT`].
pub async fn connect(url: Url, l2: RpcEndpoint) -> Result<Link, ConnectError> {
    tokio::time::timeout(ATTEMPT_TIMEOUT, open(url, l2))
        .await
        .unwrap_or(Err(ConnectError::TimedOut(ATTEMPT_TIMEOUT)))
}

async fn open(url: Url, l2: RpcEndpoint) -> Result<Link, ConnectError> {
    let shown = common::rpc::redact_url(&url);
    let channel = Channel::from_shared(url.to_string())
        .map_err(|e| ConnectError::BadUrl {
            url: shown.clone(),
            message: e.to_string(),
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        // A sidecar that stops answering is noticed even while no event is sent.
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true)
        .connect()
        .await
        .map_err(|source| ConnectError::Unreachable { url: shown, source })?;
    let mut client = SidecarTransportClient::new(channel);
    let results = client
        .subscribe_results(SubscribeResultsRequest { from_block: None })
        .await
        .map_err(|status| ConnectError::Refused {
            stream: "SubscribeResults",
            status,
        })?
        .into_inner();
    let (events, outgoing) = mpsc::unbounded();
    let acks = client
        .stream_events(outgoing)
        .await
        .map_err(|status| ConnectError::Refused {
            stream: "StreamEvents",
            status,
        })?
        .into_inner();
    let provider = l2.connect().await.map_err(ConnectError::L2)?;
    let head = l2_head(&l2, &provider).await.map_err(ConnectError::L2)?;
    Ok(Link {
        client,
        events,
        acks,
        results,
        head,
    })
}

async fn l2_head(l2: &RpcEndpoint, provider: &DynProvider) -> Result<CommittedBlock, RpcError> {
    let block = l2
        .call(provider.get_block_by_number(BlockNumberOrTag::Latest))
        .await?
        .ok_or_else(|| RpcError::Failed {
            endpoint: l2.display(),
            message: "no latest block".into(),
        })?;
    let hashes: Vec<B256> = block.transactions.hashes().collect();
    Ok(CommittedBlock {
        number: block.header.number,
        hash: block.header.hash,
        timestamp: block.header.timestamp,
        tx_count: hashes.len() as u64,
        last_tx: hashes.last().copied(),
        iteration: None,
    })
}

/// Forwards every item of `stream` with `forward` until it ends; a refused event (a failed
/// ack) ends it too, as the sidecar closes the stream after one.
pub async fn listen<T>(
    mut stream: Streaming<T>,
    refused: impl Fn(&T) -> Option<(u64, String)>,
    forward: impl Fn(T) -> bool,
) -> StreamEnd {
    loop {
        match stream.message().await {
            Ok(Some(item)) => {
                let refusal = refused(&item);
                if !forward(item) {
                    return StreamEnd::ClientGone;
                }
                if let Some((event_id, message)) = refusal {
                    return StreamEnd::Refused { event_id, message };
                }
            }
            Ok(None) => return StreamEnd::Closed,
            Err(status) => return StreamEnd::Broken(status),
        }
    }
}
