//! Brings the whole devnet up in-process: two anvils, the deployed doubles, and the stand-ins
//! served on free loopback ports. Dropping it stops everything it started.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
};
use anyhow::{Context, Result};
use tokio::{net::TcpListener, sync::Mutex};
use url::Url;

use crate::{
    accounts::{self, PRECONFER_KEY, PROVER_KEY, TEST_KEYS},
    anvil::{Anvil, AnvilOptions},
    beacon::{self, Beacon},
    deploy::{self, BASEFEE_SHARING_PCTG, Contracts},
    driver, jwt,
    l2::L2Node,
    l2_rpc,
    pool::Pool,
    raiko::{self, Raiko, RaikoState},
    rpc::Upstream,
};

/// L1 chain id (anvil's default).
pub const L1_CHAIN_ID: u64 = 31_337;
/// L2 chain id.
pub const L2_CHAIN_ID: u64 = 167_001;

/// Seconds between L1 blocks when `scripts/devnet up` is not told otherwise.
pub const DEFAULT_L1_BLOCK_TIME: u64 = 2;
/// Milliseconds the Raiko stand-in takes per proof unless told otherwise.
pub const DEFAULT_PROOF_DELAY_MS: u64 = 500;

/// How to bring the devnet up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds between L1 blocks (the beacon slot length).
    pub l1_block_time: u64,
    /// Where the JWT secret lives (shared with the node).
    pub jwt_path: PathBuf,
    /// Time the Raiko stand-in takes to prove.
    pub proof_delay: Duration,
    /// `X-API-KEY` the Raiko stand-in requires, if any.
    pub raiko_api_key: Option<String>,
}

/// URLs of everything the devnet serves.
#[derive(Debug, Clone)]
pub struct Urls {
    /// L1 anvil.
    pub l1: Url,
    /// User-facing L2 RPC (the stand-in).
    pub l2: Url,
    /// The L2 anvil itself (debugging only; users and the node go through the stand-in).
    pub l2_evm: Url,
    /// JWT-protected L2 auth RPC.
    pub l2_auth: Url,
    /// Driver REST API.
    pub l2_driver: Url,
    /// Raiko stand-in.
    pub raiko: Url,
    /// Beacon API.
    pub beacon: Url,
}

/// A running devnet.
pub struct Devnet {
    /// Its endpoints.
    pub urls: Urls,
    /// Deployed contracts.
    pub contracts: Contracts,
    /// The JWT secret file.
    pub jwt_path: PathBuf,
    /// Beacon genesis time (slot 0).
    pub genesis_time: u64,
    /// The L1 anvil.
    pub l1: Anvil,
    /// The L2 anvil.
    pub l2: Anvil,
    /// The stand-ins run on their own runtime: blob handling keeps 128 KiB blobs on the stack
    /// and debug builds overflow the default 2 MiB worker stacks of a caller's runtime.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

const STAND_IN_STACK: usize = 16 * 1024 * 1024;

fn provider(url: &Url) -> DynProvider {
    ProviderBuilder::new().connect_http(url.clone()).erased()
}

fn serve(runtime: &tokio::runtime::Runtime, router: axum::Router) -> Result<Url> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding a stand-in port")?;
    listener.set_nonblocking(true)?;
    let url = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
    runtime.spawn(async move {
        let served = match TcpListener::from_std(listener) {
            Ok(listener) => axum::serve(listener, router).await,
            Err(e) => Err(e),
        };
        if let Err(e) = served {
            tracing::error!(error = %e, "stand-in server stopped");
        }
    });
    Ok(url)
}

impl Devnet {
    /// Starts both chains, deploys, and serves the stand-ins.
    pub async fn start(options: &Options) -> Result<Self> {
        let l1 = Anvil::start(&AnvilOptions::default()).context("starting the L1 anvil")?;
        let l2 = Anvil::start(&AnvilOptions {
            chain_id: Some(L2_CHAIN_ID),
            no_mining: true,
            ..Default::default()
        })
        .context("starting the L2 anvil")?;
        let contracts = deploy::deploy(&l1.url, &l2.url, L1_CHAIN_ID, L2_CHAIN_ID)
            .await
            .context("deploying the protocol doubles")?;

        let l1_provider = provider(&l1.url);
        let l2_provider = provider(&l2.url);
        // Deployment ran with automine; from now on L1 mines a block per slot.
        l1_provider
            .anvil_set_interval_mining(options.l1_block_time)
            .await
            .context("switching L1 to interval mining")?;
        let genesis_time = common::fork::unix_now();
        let genesis_number = l2_provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .context("L2 head")?
            .header
            .number;

        let secret = jwt::load_or_create(&options.jwt_path)?;
        let node = Arc::new(L2Node {
            evm: Upstream::new(l2.url.clone()),
            evm_provider: l2_provider.clone(),
            l1: l1_provider.clone(),
            pool: Mutex::new(Pool::default()),
            build: Mutex::new(()),
            end_of_sequencing: Mutex::new(Default::default()),
            jwt: secret,
            chain_id: L2_CHAIN_ID,
            anchor: contracts.anchor,
            basefee_sharing_pctg: BASEFEE_SHARING_PCTG,
            genesis_number,
        });
        let raiko = Arc::new(Raiko {
            l1: l1_provider,
            l2: l2_provider,
            l2_chain_id: L2_CHAIN_ID,
            verifier: contracts.mock_verifier,
            basefee_sharing_pctg: BASEFEE_SHARING_PCTG,
            signer: accounts::signer(PROVER_KEY),
            api_key: options.raiko_api_key.clone(),
            state: Mutex::new(RaikoState::new(options.proof_delay)),
        });
        let beacon = Arc::new(Beacon {
            genesis_time,
            seconds_per_slot: options.l1_block_time,
            l1: l1.url.clone(),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_stack_size(STAND_IN_STACK)
            .thread_name("stand-in")
            .enable_all()
            .build()
            .context("starting the stand-ins' runtime")?;
        let l2_url = serve(&runtime, l2_rpc::user_router(node.clone()))?;
        let auth_url = serve(&runtime, l2_rpc::auth_router(node.clone()))?;
        let driver_url = serve(&runtime, driver::router(node))?;
        let raiko_url = serve(&runtime, raiko::router(raiko))?;
        let beacon_url = serve(&runtime, beacon::router(beacon))?;
        Ok(Self {
            urls: Urls {
                l1: l1.url.clone(),
                l2: l2_url,
                l2_evm: l2.url.clone(),
                l2_auth: auth_url,
                l2_driver: driver_url,
                raiko: raiko_url,
                beacon: beacon_url,
            },
            contracts,
            jwt_path: options.jwt_path.clone(),
            genesis_time,
            l1,
            l2,
            runtime: Some(runtime),
        })
    }

    /// The variables `.devnet/env` exports: endpoints, chain ids, contracts, keys, and the
    /// node's own configuration against this devnet.
    pub fn env(&self, bridge_rpc_url: &Url) -> Vec<(&'static str, String)> {
        let c = &self.contracts;
        let u = &self.urls;
        let trim = |url: &Url| url.as_str().trim_end_matches('/').to_string();
        vec![
            ("L1_RPC_URL", trim(&u.l1)),
            ("L1_BEACON_URL", trim(&u.beacon)),
            ("L2_RPC_URL", trim(&u.l2)),
            ("L2_AUTH_RPC_URL", trim(&u.l2_auth)),
            ("L2_DRIVER_URL", trim(&u.l2_driver)),
            ("L2_EVM_URL", trim(&u.l2_evm)),
            ("RAIKO_URL", trim(&u.raiko)),
            ("BRIDGE_RPC_URL", trim(bridge_rpc_url)),
            ("L1_CHAIN_ID", L1_CHAIN_ID.to_string()),
            ("L2_CHAIN_ID", L2_CHAIN_ID.to_string()),
            ("REALTIME_INBOX_ADDRESS", c.inbox.to_string()),
            ("PROPOSER_MULTICALL_ADDRESS", c.multicall.to_string()),
            ("L1_BRIDGE_ADDRESS", c.l1_bridge.to_string()),
            ("L2_BRIDGE_ADDRESS", c.l2_bridge.to_string()),
            ("L1_SIGNAL_SERVICE_ADDRESS", c.l1_signal_service.to_string()),
            ("L2_SIGNAL_SERVICE_ADDRESS", c.l2_signal_service.to_string()),
            ("ANCHOR_ADDRESS", c.anchor.to_string()),
            ("SURGE_VERIFIER_ADDRESS", c.surge_verifier.to_string()),
            ("MOCK_VERIFIER_ADDRESS", c.mock_verifier.to_string()),
            (
                "USER_OPS_SUBMITTER_ADDRESS",
                c.user_ops_submitter.to_string(),
            ),
            ("PING_L1_ADDRESS", c.ping_l1.to_string()),
            ("COUNTER_L2_ADDRESS", c.counter_l2.to_string()),
            ("SWAP_MARKET_L1_ADDRESS", c.swap_market_l1.to_string()),
            ("FLASH_SWAP_L2_ADDRESS", c.flash_swap_l2.to_string()),
            ("TICKETS_L1_ADDRESS", c.tickets_l1.to_string()),
            ("TICKETS_L2_ADDRESS", c.tickets_l2.to_string()),
            ("OWNABLE_TARGET_ADDRESS", c.ownable_target.to_string()),
            ("L2_GENESIS_HASH", c.l2_genesis_hash.to_string()),
            ("JWT_SECRET_FILE_PATH", self.jwt_path.display().to_string()),
            ("TEST_PRIVATE_KEYS", TEST_KEYS.join(",")),
            (
                "MOCK_PROVER_ADDRESS",
                accounts::address(PROVER_KEY).to_string(),
            ),
        ]
    }

    /// What the node needs to run against this devnet (on top of [`Devnet::env`]).
    pub fn node_env(&self, bridge_rpc_url: &Url, health_port: u16) -> Vec<(&'static str, String)> {
        let trim = |url: &Url| url.as_str().trim_end_matches('/').to_string();
        vec![
            ("L1_RPC_URLS", trim(&self.urls.l1)),
            ("CATALYST_NODE_ECDSA_PRIVATE_KEY", PRECONFER_KEY.to_string()),
            ("REALTIME_TIMESTAMP_SEC", "0".into()),
            ("MOCK_MODE", "true".into()),
            ("PRECONF_ONLY", "false".into()),
            // Catalyst's name of the L2 bridge variable (`L2_BRIDGE_ADDRESS` above is the devnet's).
            ("BRIDGE_L2_ADDRESS", self.contracts.l2_bridge.to_string()),
            // Devnet proofs come back within seconds; poll often.
            ("RAIKO_POLL_INTERVAL_MS", "250".into()),
            ("INTERNAL_SERVER_IP", "127.0.0.1".into()),
            ("INTERNAL_SERVER_PORT", health_port.to_string()),
            (
                "BRIDGE_RPC_ADDR",
                bridge_rpc_url
                    .socket_addrs(|| None)
                    .ok()
                    .and_then(|a| a.first().map(|a| a.to_string()))
                    .unwrap_or_default(),
            ),
        ]
    }
}
