//! The Credible Layer sidecar stand-in: the real sidecar's gRPC protocol ([`server`]) over its
//! protocol state ([`state`]), executing candidates on the L2 with the demo assertion
//! ([`exec`]), plus `GET /devnet/stats` with what it counted. It runs on its own runtime, so a
//! test can kill it (every connection drops at once, as with a killed process) and start a
//! fresh one on the same port.

mod decode;
pub mod exec;
pub mod server;
pub mod state;

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc};

use alloy::{
    primitives::Address,
    providers::{DynProvider, Provider, ProviderBuilder},
};
use anyhow::{Context, Result};
use axum::{Json, Router, extract::State, routing::get};
use common::credible_layer::wire::sidecar_transport_server::SidecarTransportServer;
use serde_json::{Value, json};
use url::Url;

use exec::OwnerAssertion;
use server::{Service, Shared};
use state::Invalidation;

/// A running sidecar stand-in; dropping it kills it.
pub struct CredibleSidecar {
    /// gRPC endpoint (`CREDIBLE_LAYER_URL`).
    pub url: Url,
    /// `GET /devnet/stats`.
    pub stats_url: Url,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for CredibleSidecar {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn invalidation_name(cause: Invalidation) -> &'static str {
    match cause {
        Invalidation::Bootstrap => "bootstrap",
        Invalidation::NoIteration => "no_iteration",
        Invalidation::Head => "head",
        Invalidation::LastHash => "last_hash",
        Invalidation::Count => "count",
        Invalidation::Engine => "engine",
    }
}

/// What `GET /devnet/stats` reports. `cache_invalidations` leaves out the bootstrap one (the
/// first CommitHead of a process, which the real sidecar always counts).
pub fn stats_json(shared: &Shared) -> Value {
    let state = shared.state();
    let stats = &state.stats;
    let by_cause: BTreeMap<&str, u64> = stats
        .invalidations
        .iter()
        .map(|(cause, n)| (invalidation_name(*cause), *n))
        .collect();
    let invalidations: u64 = stats
        .invalidations
        .iter()
        .filter(|(cause, _)| **cause != Invalidation::Bootstrap)
        .map(|(_, n)| n)
        .sum();
    let verdicts: BTreeMap<&str, u64> = stats.verdicts.iter().map(|(k, v)| (*k, *v)).collect();
    json!({
        "head": state.head(),
        "cache_invalidations": invalidations,
        "invalidations_by_cause": by_cause,
        "reorgs": stats.reorgs,
        "duplicate_event_ids": stats.duplicates,
        "parked_txs": stats.parked,
        "verdicts": verdicts,
    })
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(stats_json(&shared))
}

impl CredibleSidecar {
    /// Starts a sidecar that runs txs on the L2 at `l2` and protects the owner of `target`;
    /// `port` 0 picks a free one (a restart passes the old one).
    pub fn start(l2: &Url, target: Address, port: u16) -> Result<Self> {
        Self::start_with(Some(l2), target, port)
    }

    /// Like [`CredibleSidecar::start`]; without an L2 every tx passes at once (benchmarks
    /// measure the protocol without the stand-in's execution).
    pub fn start_with(l2: Option<&Url>, target: Address, port: u16) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sidecar")
            .enable_all()
            .build()
            .context("starting the sidecar stand-in's runtime")?;
        let provider: Option<DynProvider> =
            l2.map(|url| ProviderBuilder::new().connect_http(url.clone()).erased());
        // Inside the stand-in's runtime without blocking on it (callers run on a runtime).
        let _entered = runtime.enter();
        let listen = |port: u16| -> Result<tokio::net::TcpListener> {
            let socket = tokio::net::TcpSocket::new_v4()?;
            // A restarted sidecar takes its predecessor's port while old connections linger.
            socket.set_reuseaddr(true)?;
            socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
            Ok(socket.listen(128)?)
        };
        let grpc =
            listen(port).with_context(|| format!("binding the sidecar stand-in's port {port}"))?;
        let http = listen(0).context("binding the sidecar stand-in's stats port")?;
        let url = Url::parse(&format!("http://{}", grpc.local_addr()?))?;
        let stats_url = Url::parse(&format!("http://{}/devnet/stats", http.local_addr()?))?;
        let service = Service::start(provider, OwnerAssertion { target });
        let shared = service.0.clone();
        runtime.spawn(async move {
            let incoming =
                tonic::transport::server::TcpIncoming::from(grpc).with_nodelay(Some(true));
            let served = tonic::transport::Server::builder()
                .serve_with_incoming(SidecarTransportServer::new(service), incoming)
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "sidecar stand-in stopped");
            }
        });
        let router = Router::new()
            .route("/devnet/stats", get(stats))
            .with_state(shared);
        runtime.spawn(async move {
            if let Err(e) = axum::serve(http, router).await {
                tracing::error!(error = %e, "sidecar stand-in stats server stopped");
            }
        });
        Ok(Self {
            url,
            stats_url,
            runtime: Some(runtime),
        })
    }

    /// Its gRPC port (to start a successor on).
    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or_default()
    }
}
