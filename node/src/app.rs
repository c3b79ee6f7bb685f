//! Start-up, fork choice, supervision and shutdown of the `preconfer` process.

use std::{process::ExitCode, sync::Arc};

use common::{
    config::{CommonConfig, ConfigError},
    fork::{ForkPlan, unix_now},
    health::{ChainStatus, ProverStatus, Settlement},
    metrics,
    supervisor::{Supervisor, SupervisorBuilder, SupervisorConfig, SupervisorError},
};
use realtime::config::RealtimeConfig;
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::watch,
};

use crate::{
    cli::Cli,
    health_server::{self, HealthState, Phase},
};

/// Why the node stopped; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is unusable (exit 2).
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// The database cannot be opened (exit 2: `DATA_DIR` must be fixed).
    #[error(transparent)]
    Store(#[from] common::store::StoreError),
    /// Something the node needs at start-up is unavailable (exit 1).
    #[error("start-up failed: {0}")]
    Startup(String),
    /// The supervisor gave up, or the shutdown was not clean (exit 1).
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
}

impl NodeError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            NodeError::Config(_) | NodeError::Store(_) => ExitCode::from(2),
            NodeError::Startup(_) | NodeError::Supervisor(_) => ExitCode::FAILURE,
        }
    }
}

/// Registers SIGINT/SIGTERM handlers now (so an early signal is not lost to the default action)
/// and returns a future that resolves with the first one's name.
fn termination() -> Result<impl Future<Output = &'static str>, NodeError> {
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| NodeError::Startup(format!("cannot listen for SIGTERM: {e}")))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| NodeError::Startup(format!("cannot listen for SIGINT: {e}")))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// Runs the node until a signal or a meltdown.
pub async fn run(cli: Cli) -> Result<(), NodeError> {
    let started = std::time::Instant::now();
    let shutdown = termination()?;
    tokio::pin!(shutdown);
    let config = CommonConfig::resolve(&cli.common)?;
    common::faults::arm(&cli.faults);
    let plan = config.fork.plan(unix_now())?;
    let realtime_config = RealtimeConfig::resolve(&cli.realtime)?;
    let effective: Vec<String> = config
        .describe()
        .into_iter()
        .chain(realtime_config.describe())
        .map(|(var, value)| format!("{var}={value}"))
        .collect();
    tracing::info!(config = %effective.join(" "), "effective configuration");

    let database = common::store::open(&config.data_dir)?;

    let (phase_tx, phase) = watch::channel(match plan {
        ForkPlan::RunNow => Phase::Starting,
        ForkPlan::StartAt { at_unix, .. } => Phase::WaitingForFork { at_unix },
    });
    let chain_status = Arc::new(watch::channel(ChainStatus::default()).0);
    let settlement = Arc::new(watch::channel(Settlement::default()).0);
    let prover = Arc::new(watch::channel(ProverStatus::default()).0);
    let health = HealthState {
        phase,
        chain: chain_status.subscribe(),
        settlement: settlement.subscribe(),
        prover: prover.subscribe(),
        stale_after: config.health_stale_after,
        fork_activation: config.fork.realtime,
    };
    let server = health_server::serve(config.internal_server, health.clone())
        .await
        .map_err(|e| NodeError::Startup(e.to_string()))?;

    if let ForkPlan::StartAt { at_unix, wait } = plan {
        tracing::info!(
            activates_at = at_unix,
            wait_sec = wait.as_secs(),
            "waiting for the realtime fork to activate"
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            signal = &mut shutdown => {
                tracing::info!(signal, "stopping before the realtime fork activated");
                server.stop().await;
                return Ok(());
            }
        }
        phase_tx.send_replace(Phase::Starting);
    }

    let mut builder = SupervisorBuilder::new(SupervisorConfig::new(
        config.supervisor_max_restarts,
        config.supervisor_restart_window,
        config.shutdown_timeout,
    ));
    realtime::register(
        &mut builder,
        &config,
        &realtime_config,
        realtime::Published {
            chain: chain_status,
            settlement,
            prover,
        },
        &database,
    )
    .map_err(|e| match e {
        realtime::RegisterError::Config(e) => NodeError::Config(e),
        other => NodeError::Startup(other.to_string()),
    })?;
    // Parse the KZG trusted setup now, off the runtime, so no proposal pays for it.
    tokio::spawn(common::sidecar::trusted_setup());
    let supervisor = builder.start();
    phase_tx.send_replace(Phase::Running {
        actors: supervisor.status(),
    });
    health_server::time_to_ready(health, started);
    metrics::common()
        .fork_active
        .with_label_values(&["realtime"])
        .set(1);
    tracing::info!(proposer = %config.proposer_address, "realtime node started");

    let outcome = supervise(supervisor, &mut shutdown, &phase_tx).await;
    server.stop().await;
    if let Err(e) = database.persist(fjall::PersistMode::SyncAll) {
        tracing::error!(error = %e, "could not flush the database on shutdown");
    }
    outcome?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Supervises the actors until `shutdown` resolves (then stops them in order) or the supervisor
/// gives up on an actor (meltdown).
pub async fn supervise(
    mut supervisor: Supervisor,
    shutdown: impl Future<Output = &'static str>,
    phase: &watch::Sender<Phase>,
) -> Result<(), NodeError> {
    let outcome = tokio::select! {
        signal = shutdown => {
            tracing::info!(signal, "shutting down");
            phase.send_replace(Phase::ShuttingDown { actors: supervisor.status() });
            supervisor.shutdown().await
        }
        outcome = supervisor.finished() => {
            phase.send_replace(Phase::ShuttingDown { actors: supervisor.status() });
            outcome
        }
    };
    Ok(outcome?)
}
