//! Fork-agnostic settings: every one is an environment variable (Catalyst's name where the
//! concept is shared) and a CLI flag. `clap` parses and range-checks; [`CommonConfig::resolve`]
//! does what `clap` cannot: secrets from files, aliases, cross-field rules.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use url::Url;

use crate::{
    fork::ForkArgs,
    secret::{Secret, describe_secret_input},
};

pub mod parse;

pub use parse::{ConfigError, parse_address, parse_bounded, parse_rpc_url};

fn parse_heartbeat_ms(raw: &str) -> Result<u64, String> {
    parse_bounded(raw, 100, 60_000, "milliseconds")
}

fn parse_timeout_ms(raw: &str) -> Result<u64, String> {
    parse_bounded(raw, 50, 600_000, "milliseconds")
}

fn parse_shutdown_ms(raw: &str) -> Result<u64, String> {
    // Orchestrators send SIGKILL 10 s after SIGTERM by default; stay well inside it.
    parse_bounded(raw, 100, 9_500, "milliseconds")
}

fn parse_restarts(raw: &str) -> Result<u64, String> {
    parse_bounded(raw, 0, 1_000, "restarts")
}

fn parse_window_sec(raw: &str) -> Result<u64, String> {
    parse_bounded(raw, 1, 86_400, "seconds")
}

fn parse_port(raw: &str) -> Result<u16, String> {
    raw.trim()
        .parse()
        .map_err(|_| "expected a TCP port from 0 to 65535 (0 picks a free port)".into())
}

/// Settings shared by every fork, as `clap` reads them from flags and the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// L1 execution JSON-RPC URLs, comma-separated (http, https, ws, wss); the first serves reads
    #[arg(long, env = "L1_RPC_URLS", value_name = "L1_RPC_URLS", value_delimiter = ',',
          default_value = "http://127.0.0.1:8545", value_parser = parse_rpc_url, hide_env_values = true)]
    pub l1_rpc_urls: Vec<Url>,

    /// Timeout of one L1 JSON-RPC call, in milliseconds
    #[arg(long, env = "L1_RPC_TIMEOUT_MS", value_name = "L1_RPC_TIMEOUT_MS", default_value = "3000",
          value_parser = parse_timeout_ms, hide_env_values = true)]
    pub l1_rpc_timeout_ms: u64,

    /// User-facing L2 execution JSON-RPC URL (http, https, ws, wss)
    #[arg(long, env = "L2_RPC_URL", value_name = "L2_RPC_URL", default_value = "http://127.0.0.1:8547",
          value_parser = parse_rpc_url, hide_env_values = true)]
    pub l2_rpc_url: Url,

    /// Timeout of one L2 JSON-RPC call, in milliseconds
    #[arg(long, env = "RPC_L2_EXECUTION_LAYER_TIMEOUT_MS", value_name = "RPC_L2_EXECUTION_LAYER_TIMEOUT_MS",
          default_value = "1000", value_parser = parse_timeout_ms, hide_env_values = true)]
    pub rpc_l2_execution_layer_timeout_ms: u64,

    /// Time between two preconfirmation ticks (the node's heartbeat), in milliseconds
    #[arg(long, env = "PRECONF_HEARTBEAT_MS", value_name = "PRECONF_HEARTBEAT_MS", default_value = "2000",
          value_parser = parse_heartbeat_ms, hide_env_values = true)]
    pub preconf_heartbeat_ms: u64,

    /// Private key (32-byte hex) of the proposer: signs L1 transactions and the node's L2 transactions
    #[arg(
        long,
        env = "CATALYST_NODE_ECDSA_PRIVATE_KEY",
        value_name = "CATALYST_NODE_ECDSA_PRIVATE_KEY",
        hide_env_values = true
    )]
    pub catalyst_node_ecdsa_private_key: Option<String>,

    /// File holding the proposer private key; alternative to CATALYST_NODE_ECDSA_PRIVATE_KEY
    #[arg(
        long,
        env = "CATALYST_NODE_ECDSA_PRIVATE_KEY_FILE",
        value_name = "CATALYST_NODE_ECDSA_PRIVATE_KEY_FILE",
        hide_env_values = true
    )]
    pub catalyst_node_ecdsa_private_key_file: Option<PathBuf>,

    /// Directory of the node's one fjall database (statuses, L1 tx journal, unlanded proposals) [default: data/]
    #[arg(
        long,
        env = "DATA_DIR",
        value_name = "DATA_DIR",
        hide_env_values = true
    )]
    pub data_dir: Option<PathBuf>,

    /// Catalyst's name for DATA_DIR, honoured as an alias
    #[arg(
        long,
        env = "USER_OP_STATUS_DB_PATH",
        value_name = "USER_OP_STATUS_DB_PATH",
        hide_env_values = true
    )]
    pub user_op_status_db_path: Option<PathBuf>,

    /// Address the metrics and health server binds to (loopback by default)
    #[arg(
        long,
        env = "INTERNAL_SERVER_IP",
        value_name = "INTERNAL_SERVER_IP",
        default_value = "127.0.0.1",
        hide_env_values = true
    )]
    pub internal_server_ip: IpAddr,

    /// Port of the metrics and health server
    #[arg(long, env = "INTERNAL_SERVER_PORT", value_name = "INTERNAL_SERVER_PORT", default_value = "9898",
          value_parser = parse_port, hide_env_values = true)]
    pub internal_server_port: u16,

    /// An L1 or L2 endpoint counts as down for /readyz when it has not answered for this long, in milliseconds
    #[arg(long, env = "HEALTH_STALE_AFTER_MS", value_name = "HEALTH_STALE_AFTER_MS", default_value = "10000",
          value_parser = parse_timeout_ms, hide_env_values = true)]
    pub health_stale_after_ms: u64,

    /// Restarts of one actor allowed within SUPERVISOR_RESTART_WINDOW_SEC before the node gives up
    #[arg(long, env = "SUPERVISOR_MAX_RESTARTS", value_name = "SUPERVISOR_MAX_RESTARTS", default_value = "5",
          value_parser = parse_restarts, hide_env_values = true)]
    pub supervisor_max_restarts: u64,

    /// Window in which actor restarts are counted, in seconds
    #[arg(long, env = "SUPERVISOR_RESTART_WINDOW_SEC", value_name = "SUPERVISOR_RESTART_WINDOW_SEC",
          default_value = "60", value_parser = parse_window_sec, hide_env_values = true)]
    pub supervisor_restart_window_sec: u64,

    /// Deadline for a graceful shutdown after SIGTERM/SIGINT, in milliseconds
    #[arg(long, env = "SHUTDOWN_TIMEOUT_MS", value_name = "SHUTDOWN_TIMEOUT_MS", default_value = "8000",
          value_parser = parse_shutdown_ms, hide_env_values = true)]
    pub shutdown_timeout_ms: u64,

    /// Lowest tip bid on the proposer's L1 txs, in wei (1 gwei at least pays anvil and mainnet floors)
    #[arg(long, env = "MIN_PRIORITY_FEE_PER_GAS_WEI", value_name = "MIN_PRIORITY_FEE_PER_GAS_WEI",
          default_value = "1000000000", value_parser = parse_wei, hide_env_values = true)]
    pub min_priority_fee_per_gas_wei: u128,

    /// Highest maxFeePerGas any proposer L1 tx or replacement may bid, in wei
    #[arg(long, env = "MAX_FEE_PER_GAS_CAP", value_name = "MAX_FEE_PER_GAS_CAP",
          default_value = "500000000000", value_parser = parse_wei, hide_env_values = true)]
    pub max_fee_per_gas_cap: u128,

    /// Highest maxFeePerBlobGas any proposer L1 tx or replacement may bid, in wei
    #[arg(long, env = "MAX_FEE_PER_BLOB_GAS_CAP", value_name = "MAX_FEE_PER_BLOB_GAS_CAP",
          default_value = "200000000000", value_parser = parse_wei, hide_env_values = true)]
    pub max_fee_per_blob_gas_cap: u128,

    /// Percentage added to the L1 gas estimate
    #[arg(long, env = "EXTRA_GAS_PERCENTAGE", value_name = "EXTRA_GAS_PERCENTAGE", default_value = "100",
          value_parser = |r: &str| parse_bounded(r, 0, 1_000, "percent"), hide_env_values = true)]
    pub extra_gas_percentage: u64,

    /// L1 blocks a proposer tx may wait unmined before it is replaced with higher fees
    #[arg(long, env = "TX_REPLACE_AFTER_L1_BLOCKS", value_name = "TX_REPLACE_AFTER_L1_BLOCKS", default_value = "2",
          value_parser = |r: &str| parse_bounded(r, 1, 64, "blocks"), hide_env_values = true)]
    pub tx_replace_after_l1_blocks: u64,

    #[command(flatten)]
    pub fork: ForkArgs,
}

fn parse_wei(raw: &str) -> Result<u128, String> {
    let value: u128 = raw
        .trim()
        .parse()
        .map_err(|_| "expected a whole number of wei, at least 1".to_string())?;
    if value == 0 {
        return Err("expected a whole number of wei, at least 1".into());
    }
    Ok(value)
}

/// Default of `DATA_DIR`.
pub const DEFAULT_DATA_DIR: &str = "data/";

/// The validated fork-agnostic configuration.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// L1 endpoints; the first serves reads.
    pub l1_rpc_urls: Vec<Url>,
    /// Per-call L1 timeout.
    pub l1_rpc_timeout: Duration,
    /// User-facing L2 endpoint.
    pub l2_rpc_url: Url,
    /// Per-call L2 timeout.
    pub l2_rpc_timeout: Duration,
    /// The node's heartbeat.
    pub heartbeat: Duration,
    /// The proposer key.
    pub signer: Secret<PrivateKeySigner>,
    /// The proposer address (derived from the key; safe to show).
    pub proposer_address: Address,
    /// Where the fjall database lives.
    pub data_dir: PathBuf,
    /// Bind address of the metrics and health server.
    pub internal_server: std::net::SocketAddr,
    /// When an endpoint counts as down.
    pub health_stale_after: Duration,
    /// Meltdown threshold.
    pub supervisor_max_restarts: u32,
    /// Meltdown window.
    pub supervisor_restart_window: Duration,
    /// Graceful shutdown deadline.
    pub shutdown_timeout: Duration,
    /// Fork activation times.
    pub fork: crate::fork::ForkSchedule,
    /// How the proposer's L1 txs bid and wait.
    pub tx: crate::tx_manager::TxManagerConfig,
}

impl CommonConfig {
    /// Turns parsed arguments into a usable configuration, or says which variable is wrong.
    pub fn resolve(args: &CommonArgs) -> Result<Self, ConfigError> {
        let signer = resolve_signer(
            args.catalyst_node_ecdsa_private_key.as_deref(),
            args.catalyst_node_ecdsa_private_key_file.as_deref(),
        )?;
        let data_dir = match (&args.data_dir, &args.user_op_status_db_path) {
            (Some(a), Some(b)) if a != b => {
                return Err(ConfigError::Conflict {
                    first: "DATA_DIR",
                    second: "USER_OP_STATUS_DB_PATH",
                });
            }
            (Some(dir), _) | (None, Some(dir)) => dir.clone(),
            (None, None) => PathBuf::from(DEFAULT_DATA_DIR),
        };
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                var: "DATA_DIR",
                shown: "\"\"".into(),
                expected: "a directory path".into(),
            });
        }
        if args.l1_rpc_urls.is_empty() {
            return Err(ConfigError::Missing {
                var: "L1_RPC_URLS",
                expected: "at least one L1 JSON-RPC URL".into(),
            });
        }
        let fork = args.fork.schedule();
        Ok(Self {
            l1_rpc_urls: args.l1_rpc_urls.clone(),
            l1_rpc_timeout: Duration::from_millis(args.l1_rpc_timeout_ms),
            l2_rpc_url: args.l2_rpc_url.clone(),
            l2_rpc_timeout: Duration::from_millis(args.rpc_l2_execution_layer_timeout_ms),
            heartbeat: Duration::from_millis(args.preconf_heartbeat_ms),
            proposer_address: signer.address(),
            signer: Secret::new(signer),
            data_dir,
            internal_server: std::net::SocketAddr::new(
                args.internal_server_ip,
                args.internal_server_port,
            ),
            health_stale_after: Duration::from_millis(args.health_stale_after_ms),
            supervisor_max_restarts: args.supervisor_max_restarts as u32,
            supervisor_restart_window: Duration::from_secs(args.supervisor_restart_window_sec),
            shutdown_timeout: Duration::from_millis(args.shutdown_timeout_ms),
            fork,
            tx: crate::tx_manager::TxManagerConfig {
                fees: crate::tx_manager::fees::FeePolicy {
                    min_tip: args.min_priority_fee_per_gas_wei,
                    max_fee_cap: args.max_fee_per_gas_cap,
                    max_blob_fee_cap: args.max_fee_per_blob_gas_cap,
                },
                extra_gas_percentage: args.extra_gas_percentage,
                replace_after_blocks: args.tx_replace_after_l1_blocks,
                // Half the heartbeat, at most a second: inclusion is noticed within one L2 slot.
                poll_interval: Duration::from_millis(args.preconf_heartbeat_ms / 2)
                    .min(Duration::from_secs(1)),
            },
        })
    }

    /// `VAR=value` pairs for the start-up log: URLs redacted, the key replaced by its address.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let opt = |v: Option<u64>| v.map_or_else(|| "unset".to_string(), |v| v.to_string());
        vec![
            (
                "L1_RPC_URLS",
                self.l1_rpc_urls
                    .iter()
                    .map(crate::rpc::redact_url)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "L1_RPC_TIMEOUT_MS",
                self.l1_rpc_timeout.as_millis().to_string(),
            ),
            ("L2_RPC_URL", crate::rpc::redact_url(&self.l2_rpc_url)),
            (
                "RPC_L2_EXECUTION_LAYER_TIMEOUT_MS",
                self.l2_rpc_timeout.as_millis().to_string(),
            ),
            (
                "PRECONF_HEARTBEAT_MS",
                self.heartbeat.as_millis().to_string(),
            ),
            (
                "CATALYST_NODE_ECDSA_PRIVATE_KEY",
                format!("<redacted; address {}>", self.proposer_address),
            ),
            ("DATA_DIR", self.data_dir.display().to_string()),
            ("INTERNAL_SERVER", self.internal_server.to_string()),
            (
                "HEALTH_STALE_AFTER_MS",
                self.health_stale_after.as_millis().to_string(),
            ),
            (
                "SUPERVISOR_MAX_RESTARTS",
                self.supervisor_max_restarts.to_string(),
            ),
            (
                "SUPERVISOR_RESTART_WINDOW_SEC",
                self.supervisor_restart_window.as_secs().to_string(),
            ),
            (
                "SHUTDOWN_TIMEOUT_MS",
                self.shutdown_timeout.as_millis().to_string(),
            ),
            (
                "MIN_PRIORITY_FEE_PER_GAS_WEI",
                self.tx.fees.min_tip.to_string(),
            ),
            ("MAX_FEE_PER_GAS_CAP", self.tx.fees.max_fee_cap.to_string()),
            (
                "MAX_FEE_PER_BLOB_GAS_CAP",
                self.tx.fees.max_blob_fee_cap.to_string(),
            ),
            (
                "EXTRA_GAS_PERCENTAGE",
                self.tx.extra_gas_percentage.to_string(),
            ),
            (
                "TX_REPLACE_AFTER_L1_BLOCKS",
                self.tx.replace_after_blocks.to_string(),
            ),
            ("REALTIME_TIMESTAMP_SEC", self.fork.realtime.to_string()),
            ("SHASTA_TIMESTAMP_SEC", opt(self.fork.shasta)),
            (
                "PERMISSIONLESS_TIMESTAMP_SEC",
                opt(self.fork.permissionless),
            ),
        ]
    }
}

const KEY_VAR: &str = "CATALYST_NODE_ECDSA_PRIVATE_KEY";
const KEY_FILE_VAR: &str = "CATALYST_NODE_ECDSA_PRIVATE_KEY_FILE";
const KEY_EXPECTED: &str = "a 32-byte hex private key (64 hex digits, 0x optional)";

fn resolve_signer(
    inline: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<PrivateKeySigner, ConfigError> {
    let (raw, var) = match (inline, file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Conflict {
                first: KEY_VAR,
                second: KEY_FILE_VAR,
            });
        }
        (Some(raw), None) => (raw.to_string(), KEY_VAR),
        (None, Some(path)) => {
            let raw = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
                var: KEY_FILE_VAR,
                shown: path.display().to_string(),
                expected: format!("a readable file holding {KEY_EXPECTED} ({e})"),
            })?;
            (raw, KEY_FILE_VAR)
        }
        (None, None) => {
            return Err(ConfigError::Missing {
                var: KEY_VAR,
                expected: format!(
                    "set it to {KEY_EXPECTED}, or set {KEY_FILE_VAR} to a file holding it"
                ),
            });
        }
    };
    raw.trim()
        .parse::<PrivateKeySigner>()
        .map_err(|_| ConfigError::Invalid {
            var,
            shown: if var == KEY_VAR {
                describe_secret_input(&raw)
            } else {
                format!(
                    "<contents of the file: {}>",
                    describe_secret_input(raw.trim())
                )
            },
            expected: KEY_EXPECTED.into(),
        })
}

#[cfg(test)]
mod tests;
