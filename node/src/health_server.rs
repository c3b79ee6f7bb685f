//! The operator's HTTP surface on `INTERNAL_SERVER_IP:INTERNAL_SERVER_PORT`:
//! `/metrics` (Prometheus), `/healthz` (alive), `/readyz` (able to do its job), `/status` (JSON).

use std::{net::SocketAddr, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use common::{
    fork::unix_now,
    health::{ChainStatus, EndpointView, ProverStatus, Settlement},
    supervisor::{ChildState, ChildStatus, Restart},
};
use serde::Serialize;
use tokio::{
    sync::{oneshot, watch},
    time::Instant,
};

/// Where the node is in its life.
#[derive(Debug, Clone)]
pub enum Phase {
    /// Start-up: the actors are about to start.
    Starting,
    /// The realtime fork has not activated yet.
    WaitingForFork {
        /// Activation (Unix seconds).
        at_unix: u64,
    },
    /// Actors are running under the root supervisor.
    Running {
        /// The supervisor's per-child status.
        actors: watch::Receiver<Vec<ChildStatus>>,
    },
    /// A shutdown is in progress.
    ShuttingDown {
        /// The supervisor's per-child status.
        actors: watch::Receiver<Vec<ChildStatus>>,
    },
}

/// What the handlers read.
#[derive(Clone)]
pub struct HealthState {
    /// The node's phase.
    pub phase: watch::Receiver<Phase>,
    /// What the chain monitor publishes.
    pub chain: watch::Receiver<ChainStatus>,
    /// What the proposing actors publish.
    pub settlement: watch::Receiver<Settlement>,
    /// What the prover publishes.
    pub prover: watch::Receiver<ProverStatus>,
    /// When an endpoint counts as down.
    pub stale_after: Duration,
    /// Realtime activation (Unix seconds).
    pub fork_activation: u64,
}

/// The running server; stop it with [`HealthServer::stop`].
pub struct HealthServer {
    /// The bound address (useful with port 0).
    pub local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: oneshot::Receiver<()>,
}

/// The server could not bind its address.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} (INTERNAL_SERVER_IP / INTERNAL_SERVER_PORT): {source}")]
pub struct BindError {
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// Binds and serves until stopped, on a thread and runtime of its own: health checks are
/// answered at once even while the node's workers are busy (start-up, KZG, a burst of work),
/// which is exactly when an orchestrator asks.
pub async fn serve(addr: SocketAddr, state: HealthState) -> Result<HealthServer, BindError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| BindError { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| BindError { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| BindError { addr, source })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| BindError { addr, source })?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .with_state(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let (finished, done) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("health-server".into())
        .spawn(move || {
            runtime.block_on(async move {
                let served = async {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                };
                if let Err(e) = served.await {
                    tracing::error!(error = %e, "health server failed");
                }
            });
            let _ = finished.send(());
        })
        .map_err(|source| BindError { addr, source })?;
    tracing::info!(%local_addr, "metrics and health server listening");
    Ok(HealthServer {
        local_addr,
        stop,
        done,
    })
}

impl HealthServer {
    /// Stops accepting connections and waits briefly for open ones.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(1), self.done).await;
    }
}

async fn metrics() -> impl IntoResponse {
    let body = prometheus::TextEncoder::new()
        .encode_to_string(&common::metrics::registry().gather())
        .unwrap_or_else(|e| format!("# encoding failed: {e}\n"));
    ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body)
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "alive" }))
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    reasons: Vec<String>,
}

/// Why the node cannot do its job right now; empty when ready.
fn not_ready_reasons(state: &HealthState) -> Vec<String> {
    let phase = state.phase.borrow().clone();
    match phase {
        Phase::WaitingForFork { at_unix } => vec![format!(
            "the realtime fork activates at {at_unix} (in {} s)",
            at_unix.saturating_sub(unix_now())
        )],
        Phase::Starting => vec!["the node is starting".into()],
        Phase::ShuttingDown { .. } => vec!["the node is shutting down".into()],
        Phase::Running { actors } => {
            let mut reasons: Vec<String> = actors
                .borrow()
                .iter()
                .filter(|c| c.restart == Restart::Permanent && c.state != ChildState::Running)
                .map(|c| {
                    let error = c
                        .last_error
                        .as_deref()
                        .map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default();
                    format!("actor {} is {}{error}", c.name, c.state)
                })
                .collect();
            reasons.extend(
                state
                    .chain
                    .borrow()
                    .problems(Instant::now(), state.stale_after),
            );
            reasons.extend(state.prover.borrow().problem());
            reasons.extend(state.settlement.borrow().production.problem());
            reasons
        }
    }
}

/// Sets `startup_ready_seconds` (and logs it) the first time the node is ready after
/// `started`: how long a restart keeps it from doing its job.
pub fn time_to_ready(state: HealthState, started: std::time::Instant) {
    tokio::spawn(async move {
        while !not_ready_reasons(&state).is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let took = started.elapsed();
        ready_gauge().set(took.as_secs_f64());
        tracing::info!(
            took_ms = took.as_millis() as u64,
            "node ready (every actor runs, both chains answer)"
        );
    });
}

#[allow(clippy::expect_used)] // a static definition: a failure is a programming error
fn ready_gauge() -> &'static prometheus::Gauge {
    static GAUGE: std::sync::OnceLock<prometheus::Gauge> = std::sync::OnceLock::new();
    GAUGE.get_or_init(|| {
        common::metrics::register(
            common::metrics::registry(),
            prometheus::Gauge::new(
                "startup_ready_seconds",
                "Process start to the first moment /readyz would answer 200",
            )
            .expect("valid metric definition"),
        )
    })
}

async fn readyz(State(state): State<HealthState>) -> impl IntoResponse {
    let reasons = not_ready_reasons(&state);
    let code = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Readiness {
            ready: reasons.is_empty(),
            reasons,
        }),
    )
}

#[derive(Serialize)]
struct ForkView {
    name: &'static str,
    activates_at: u64,
    active: bool,
}

#[derive(Serialize)]
struct StatusView {
    version: &'static str,
    phase: &'static str,
    fork: ForkView,
    actors: Vec<ChildStatus>,
    l1: EndpointView,
    l2: EndpointView,
    last_finalized_l2_block_hash: Option<String>,
    finality_error: Option<String>,
    forced_inclusions: Option<common::health::ForcedInclusionStatus>,
    settlement: Settlement,
    prover: ProverStatus,
}

async fn status(State(state): State<HealthState>) -> impl IntoResponse {
    let phase = state.phase.borrow().clone();
    let (phase_name, actors) = match &phase {
        Phase::Starting => ("starting", Vec::new()),
        Phase::WaitingForFork { .. } => ("waiting_for_fork", Vec::new()),
        Phase::Running { actors } => ("running", actors.borrow().clone()),
        Phase::ShuttingDown { actors } => ("shutting_down", actors.borrow().clone()),
    };
    let chain = state.chain.borrow().clone();
    let now = Instant::now();
    Json(StatusView {
        version: env!("CARGO_PKG_VERSION"),
        phase: phase_name,
        fork: ForkView {
            name: "realtime",
            activates_at: state.fork_activation,
            active: !matches!(phase, Phase::WaitingForFork { .. }),
        },
        actors,
        l1: chain.l1.view(now),
        l2: chain.l2.view(now),
        last_finalized_l2_block_hash: chain.last_finalized_l2_block_hash.map(|h| h.to_string()),
        finality_error: chain.finality_error,
        forced_inclusions: chain.forced_inclusions,
        settlement: state.settlement.borrow().clone(),
        prover: state.prover.borrow().clone(),
    })
}
