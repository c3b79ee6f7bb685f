//! The Surge real-time fork: its actors, wired under the node's root supervisor.

pub mod batch_manager;
pub mod block_build;
pub mod block_policy;
pub mod bridge;
pub mod cadence;
pub mod chain_monitor;
pub mod chain_read;
pub mod config;
pub mod credible_layer;
pub mod forced_inclusion;
pub mod landed_proposals;
pub mod metrics;
pub mod proposal;
pub mod proposal_store;
pub mod propose_tx;
pub mod prover;
pub mod restart;
pub mod slot_clock;
pub mod submitter;

use std::sync::Arc;

use batch_manager::{BatchManager, BatchManagerSetup, Clients, CrossChain};
use bridge::{
    BridgeHandler, BridgeSetup,
    status::{StatusError, StatusStore},
};
use chain_monitor::{ChainMonitor, ChainMonitorSetup, ChainSubscribers};
use common::tx_manager::journal::{Journal, JournalError};
use common::{
    config::{CommonConfig, ConfigError},
    driver::{DriverClient, DriverTimeouts},
    engine::EngineClient,
    health::{ChainStatus, ProverStatus, Settlement},
    rpc::RpcEndpoint,
    supervisor::{Handle, Reserved, Restart, SupervisorBuilder},
};
use config::RealtimeConfig;
use proposal_store::{ProposalStore, ProposalStoreError};
use prover::{Prover, ProverSetup};
use submitter::{AsyncSubmitter, SubmitterSetup};

/// Why the realtime actors could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// A setting is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The proposal store cannot be opened.
    #[error(transparent)]
    Store(#[from] ProposalStoreError),
    /// The L1 tx journal cannot be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The user-op store cannot be opened.
    #[error(transparent)]
    UserOps(#[from] StatusError),
}
use tokio::sync::watch;

/// Handles to the realtime actors, valid across restarts.
pub struct RealtimeHandles {
    /// The prover and proposer (absent under PRECONF_ONLY).
    pub submitter: Option<Handle<AsyncSubmitter>>,
    /// The chain monitor.
    pub chain_monitor: Handle<ChainMonitor>,
    /// The heartbeat and proposal builder.
    pub batch_manager: Handle<BatchManager>,
    /// The surge_* RPC and user-op simulations.
    pub bridge_handler: Handle<BridgeHandler>,
}

/// Where the actors publish what the health server shows.
pub struct Published {
    /// The chain monitor: heads and endpoints.
    pub chain: Arc<watch::Sender<ChainStatus>>,
    /// The batch manager and the submitter: preconfirmed and settled heads.
    pub settlement: Arc<watch::Sender<Settlement>>,
    /// The prover: Raiko's health.
    pub prover: Arc<watch::Sender<ProverStatus>>,
}

/// Adds the realtime actors to `supervisor` in start order; they publish to `published`.
pub fn register(
    supervisor: &mut SupervisorBuilder,
    common: &CommonConfig,
    config: &RealtimeConfig,
    published: Published,
    database: &fjall::Database,
) -> Result<RealtimeHandles, RegisterError> {
    let Published {
        chain: chain_status,
        settlement,
        prover: prover_status,
    } = published;
    let jwt = config.jwt.clone();
    let http = reqwest::Client::builder()
        .build()
        .map_err(|e| ConfigError::Invalid {
            var: "L2_DRIVER_URL",
            shown: String::new(),
            expected: format!("an HTTP client could not be created: {e}"),
        })?;
    // The batch manager and the submitter message each other (and the chain monitor, started
    // first, messages both): their handles exist before any of them starts.
    let batch_slot = Reserved::<BatchManager>::new("batch_manager");
    let bridge_slot = Reserved::<BridgeHandler>::new("bridge_handler");
    let submitter_slot =
        (!config.preconf_only).then(|| Reserved::<AsyncSubmitter>::new("submitter"));
    let l1 = RpcEndpoint::new(common.l1_rpc_urls[0].clone(), common.l1_rpc_timeout);
    let l2 = RpcEndpoint::new(common.l2_rpc_url.clone(), common.l2_rpc_timeout);
    let setup = ChainMonitorSetup {
        // Validation guarantees at least one L1 URL; the first one serves reads.
        l1: l1.clone(),
        l2: l2.clone(),
        inbox: config.inbox,
        interval: common.heartbeat,
        status: chain_status,
        subscribers: ChainSubscribers {
            l1_heads: vec![batch_slot.handle().subscriber()],
            // Nobody in the node needs landings from the monitor: the submitter reads its own
            // receipts. Reorgs of landed proposals are the submitter's to resync from.
            landed: vec![],
            reorged: submitter_slot
                .iter()
                .map(|slot| slot.handle().subscriber())
                .collect(),
            forced: vec![batch_slot.handle().subscriber()],
        },
    };
    let chain_monitor = supervisor.child("chain_monitor", Restart::Permanent, move |link| {
        Ok::<_, std::convert::Infallible>(ChainMonitor::new(setup.clone(), link))
    });
    let store = ProposalStore::open(database)?;
    // An unreadable id counter stops start-up here with its own error, not at the first seal.
    store.next_id()?;
    let statuses = StatusStore::open_with(database, config.bridge.max_attempts)?;
    // User ops need a proposer and the contracts they go through.
    let cross_chain = config.bridge.contracts.filter(|_| !config.preconf_only);
    let submitter = if let Some(submitter_slot) = submitter_slot {
        let prover_setup = ProverSetup {
            http: http.clone(),
            config: config.prover.clone(),
            status: prover_status,
        };
        let prover_actor = supervisor.child("prover", Restart::Permanent, move |link| {
            Ok::<_, std::convert::Infallible>(Prover::new(prover_setup.clone(), link))
        });
        let setup = SubmitterSetup {
            prover_actor,
            l1: l1.clone(),
            l1_backups: common.l1_rpc_urls[1..]
                .iter()
                .map(|url| RpcEndpoint::new(url.clone(), common.l1_rpc_timeout))
                .collect(),
            l2: l2.clone(),
            inbox: config.inbox,
            prover: config.prover.clone(),
            store: store.clone(),
            journal: Journal::open(database)?,
            signer: common.signer.clone(),
            tx: common.tx,
            privacy_key: config.privacy_key.clone(),
            max_in_flight: config.max_in_flight,
            rewind: batch_slot.handle().subscriber(),
            settled: batch_slot.handle().subscriber(),
            retry: common.heartbeat,
            statuses: statuses.clone(),
            cross_chain,
            settlement: settlement.clone(),
        };
        Some(
            supervisor.add(submitter_slot, Restart::Permanent, move |link| {
                Ok::<_, std::convert::Infallible>(AsyncSubmitter::new(setup.clone(), link))
            }),
        )
    } else {
        None
    };
    let engine = EngineClient::new(
        http.clone(),
        config.l2_auth_rpc_url.clone(),
        jwt.clone(),
        common.l2_rpc_timeout,
    );
    let bridge_setup = BridgeSetup {
        engine: engine.clone(),
        config: config.bridge.clone(),
        statuses: statuses.clone(),
        proposals: store.clone(),
        l1: l1.clone(),
        l2: l2.clone(),
        inbox: config.inbox,
        disabled: user_ops_disabled(config),
        retry: common.heartbeat,
        proposer: common.proposer_address,
    };
    let credible_layer = config.credible_layer.clone().map(|cl| {
        let budget = cl.block_budget;
        let setup = credible_layer::CredibleLayerSetup {
            config: cl,
            l2: l2.clone(),
        };
        let client = supervisor.child("credible_layer", Restart::Permanent, move |link| {
            Ok::<_, std::convert::Infallible>(credible_layer::CredibleLayerClient::new(
                setup.clone(),
                link,
            ))
        });
        credible_layer::ask::CredibleLayerAsk { client, budget }
    });
    let batch_setup = BatchManagerSetup {
        clients: Clients {
            l1,
            l2,
            engine,
            driver: DriverClient::new(
                http.clone(),
                config.l2_driver_url.clone(),
                jwt,
                DriverTimeouts {
                    preconf: config.driver_preconf_timeout,
                    status: config.driver_status_timeout,
                    retry_budget: config.driver_retry_budget,
                },
            ),
            http,
            credible_layer,
        },
        config: config.clone(),
        heartbeat: common.heartbeat,
        coinbase: common.proposer_address,
        store,
        bridge: bridge_slot.handle(),
        submitter: submitter.as_ref().map(|s| s.subscriber()),
        settlement,
        statuses,
        cross_chain: cross_chain.map(|contracts| CrossChain {
            contracts,
            l2_signer: common.signer.clone(),
        }),
    };
    let batch_manager = supervisor.add(batch_slot, Restart::Permanent, move |link| {
        BatchManager::new(batch_setup.clone(), link)
    });
    let bridge_handler = supervisor.add(bridge_slot, Restart::Permanent, move |link| {
        Ok::<_, std::convert::Infallible>(BridgeHandler::new(bridge_setup.clone(), link))
    });
    Ok(RealtimeHandles {
        submitter,
        chain_monitor,
        batch_manager,
        bridge_handler,
    })
}

/// Why `surge_sendUserOp` refuses ops on this node, if it does.
fn user_ops_disabled(config: &RealtimeConfig) -> Option<String> {
    if config.preconf_only {
        Some("user ops are disabled on this node: PRECONF_ONLY=true, it never proposes to L1, so no op could run".into())
    } else if config.bridge.contracts.is_none() {
        Some("user ops are disabled on this node: set PROPOSER_MULTICALL_ADDRESS, L1_BRIDGE_ADDRESS, BRIDGE_L2_ADDRESS and L2_SIGNAL_SERVICE_ADDRESS".into())
    } else {
        None
    }
}
