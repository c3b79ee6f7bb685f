//! Settings of the realtime fork (Catalyst's names and defaults where Catalyst has the concept).

use std::{path::PathBuf, time::Duration};

use alloy::primitives::Address;
use common::{
    codec::blob::MAX_BLOB_PAYLOAD,
    config::{ConfigError, parse_address, parse_bounded, parse_rpc_url},
    jwt::JwtAuth,
    secret::{Secret, describe_secret_input},
};
use url::Url;

use crate::bridge::config::{BridgeArgs, BridgeConfig};
use crate::credible_layer::config::{CredibleLayerArgs, CredibleLayerConfig};

pub mod describe;
pub mod limits;
pub mod prover;

pub use limits::{BlockPolicy, ProposalLimits};
pub use prover::{MOCK_ECDSA_FLAG, ProofType, ProverConfig};

/// Most blocks one derivation source may hold (taiko-client-rs `DERIVATION_SOURCE_MAX_BLOCKS`).
pub const DERIVATION_SOURCE_MAX_BLOCKS: u64 = 192;
/// Most blobs one L1 transaction may carry (EIP-7594).
pub const MAX_BLOBS_PER_TX: u64 = 6;

fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn ms(raw: &str) -> Result<u64, String> {
    parse_bounded(raw, 50, 600_000, "milliseconds")
}

/// Realtime settings as `clap` reads them from flags and the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct RealtimeArgs {
    /// L1 RealTimeInbox contract address (required)
    #[arg(long, env = "REALTIME_INBOX_ADDRESS", value_name = "REALTIME_INBOX_ADDRESS",
          value_parser = parse_address, hide_env_values = true)]
    pub realtime_inbox_address: Option<Address>,

    /// L2 Anchor contract (the target of every block's first tx)
    #[arg(long, env = "ANCHOR_ADDRESS", value_name = "ANCHOR_ADDRESS",
          default_value = "0x1670010000000000000000000000000000010001",
          value_parser = parse_address, hide_env_values = true)]
    pub anchor_address: Address,

    /// L2 engine auth JSON-RPC (JWT), serves the tx pool content
    #[arg(long, env = "L2_AUTH_RPC_URL", value_name = "L2_AUTH_RPC_URL",
          default_value = "http://127.0.0.1:1235", value_parser = parse_rpc_url, hide_env_values = true)]
    pub l2_auth_rpc_url: Url,

    /// Taiko driver REST API (JWT)
    #[arg(long, env = "L2_DRIVER_URL", value_name = "L2_DRIVER_URL",
          default_value = "http://127.0.0.1:1236", value_parser = parse_rpc_url, hide_env_values = true)]
    pub l2_driver_url: Url,

    /// File with the 32-byte hex JWT secret shared with the L2 engine and the driver
    #[arg(
        long,
        env = "JWT_SECRET_FILE_PATH",
        value_name = "JWT_SECRET_FILE_PATH",
        default_value = "/tmp/jwtsecret",
        hide_env_values = true
    )]
    pub jwt_secret_file_path: PathBuf,

    /// Timeout of POST /preconfBlocks, in milliseconds
    #[arg(long, env = "RPC_DRIVER_PRECONF_TIMEOUT_MS", value_name = "RPC_DRIVER_PRECONF_TIMEOUT_MS",
          default_value = "60000", value_parser = ms, hide_env_values = true)]
    pub rpc_driver_preconf_timeout_ms: u64,

    /// Timeout of the driver's status and reorg calls, in milliseconds
    #[arg(long, env = "RPC_DRIVER_STATUS_TIMEOUT_MS", value_name = "RPC_DRIVER_STATUS_TIMEOUT_MS",
          default_value = "1000", value_parser = ms, hide_env_values = true)]
    pub rpc_driver_status_timeout_ms: u64,

    /// Total time the driver's idempotent calls (status, reorg) are retried for, in milliseconds
    #[arg(long, env = "RPC_DRIVER_RETRY_TIMEOUT_MS", value_name = "RPC_DRIVER_RETRY_TIMEOUT_MS",
          default_value = "1000", value_parser = ms, hide_env_values = true)]
    pub rpc_driver_retry_timeout_ms: u64,

    /// L1 beacon API, for the slot clock the heartbeat aligns to
    #[arg(long, env = "L1_BEACON_URL", value_name = "L1_BEACON_URL",
          default_value = "http://127.0.0.1:4000", value_parser = parse_rpc_url, hide_env_values = true)]
    pub l1_beacon_url: Url,

    /// L1 slot length in seconds (the beacon's SECONDS_PER_SLOT wins when it answers)
    #[arg(long, env = "L1_SLOT_DURATION_SEC", value_name = "L1_SLOT_DURATION_SEC", default_value = "12",
          value_parser = |r: &str| parse_bounded(r, 1, 60, "seconds"), hide_env_values = true)]
    pub l1_slot_duration_sec: u64,

    /// Forced inclusions a proposal consumes at most (each becomes one L2 block at its start)
    #[arg(long, env = "FI_MAX_PER_PROPOSAL", value_name = "FI_MAX_PER_PROPOSAL", default_value = "4",
          value_parser = |r: &str| parse_bounded(r, 1, 64, "forced inclusions"), hide_env_values = true)]
    pub fi_max_per_proposal: u64,

    /// Only preconfirm: seal proposals, log and drop them (no proving, no L1 txs)
    #[arg(long, env = "PRECONF_ONLY", value_name = "PRECONF_ONLY", default_value = "true",
          value_parser = parse_bool, action = clap::ArgAction::Set, hide_env_values = true)]
    pub preconf_only: bool,

    /// Pending txs that make a block worth building right away
    #[arg(long, env = "PRECONF_MIN_TXS", value_name = "PRECONF_MIN_TXS", default_value = "3",
          value_parser = |r: &str| parse_bounded(r, 1, 10_000, "transactions"), hide_env_values = true)]
    pub preconf_min_txs: u64,

    /// Heartbeats without a block after which any pending tx gets one
    #[arg(long, env = "PRECONF_MAX_SKIPPED_L2_SLOTS", value_name = "PRECONF_MAX_SKIPPED_L2_SLOTS",
          default_value = "2", value_parser = |r: &str| parse_bounded(r, 0, 1_000, "slots"), hide_env_values = true)]
    pub preconf_max_skipped_l2_slots: u64,

    /// Blobs one proposal may fill (its compressed payload limit is this × 130,044 bytes)
    #[arg(long, env = "BLOBS_PER_BATCH", value_name = "BLOBS_PER_BATCH", default_value = "5",
          value_parser = |r: &str| parse_bounded(r, 1, MAX_BLOBS_PER_TX, "blobs"), hide_env_values = true)]
    pub blobs_per_batch: u64,

    /// Most L2 blocks per proposal (0: the derivation limit, 192)
    #[arg(long, env = "MAX_BLOCKS_PER_BATCH", value_name = "MAX_BLOCKS_PER_BATCH", default_value = "0",
          value_parser = |r: &str| parse_bounded(r, 0, DERIVATION_SOURCE_MAX_BLOCKS, "blocks"), hide_env_values = true)]
    pub max_blocks_per_batch: u64,

    /// How long before an L1 slot starts a proposal must be sealed for its proof and its tx to
    /// make that slot's block: the open proposal is sealed at the last heartbeat that still
    /// makes the next slot it can make (one proposal per L1 slot)
    #[arg(long, env = "PROPOSAL_SEAL_LEAD_MS", value_name = "PROPOSAL_SEAL_LEAD_MS",
          default_value = "2000", value_parser = |r: &str| parse_bounded(r, 0, 120_000, "milliseconds"), hide_env_values = true)]
    pub proposal_seal_lead_ms: u64,

    /// Largest gap between consecutive L2 block timestamps, in seconds
    #[arg(long, env = "MAX_TIME_SHIFT_BETWEEN_BLOCKS_SEC", value_name = "MAX_TIME_SHIFT_BETWEEN_BLOCKS_SEC",
          default_value = "255", value_parser = |r: &str| parse_bounded(r, 2, 3_600, "seconds"), hide_env_values = true)]
    pub max_time_shift_between_blocks_sec: u64,

    /// Safety margin below the 256-block `blockhash` window for a proposal's anchor block
    #[arg(long, env = "MAX_ANCHOR_HEIGHT_OFFSET_REDUCTION_VALUE", value_name = "MAX_ANCHOR_HEIGHT_OFFSET_REDUCTION_VALUE",
          default_value = "10", value_parser = |r: &str| parse_bounded(r, 1, 250, "blocks"), hide_env_values = true)]
    pub max_anchor_height_offset_reduction_value: u64,

    /// L1 blocks the anchor trails the L1 head by (shallow L1 reorgs then do not orphan it)
    #[arg(long, env = "ANCHOR_L1_HEIGHT_LAG", value_name = "ANCHOR_L1_HEIGHT_LAG", default_value = "8",
          value_parser = |r: &str| parse_bounded(r, 2, 200, "blocks"), hide_env_values = true)]
    pub anchor_l1_height_lag: u64,

    /// Byte budget of one block's tx list (uncompressed), asked of the tx pool
    #[arg(long, env = "MAX_BYTES_PER_TX_LIST", value_name = "MAX_BYTES_PER_TX_LIST", default_value = "130044",
          value_parser = |r: &str| parse_bounded(r, 1_024, 10_000_000, "bytes"), hide_env_values = true)]
    pub max_bytes_per_tx_list: u64,

    /// Raiko prover base URL
    #[arg(long, env = "RAIKO_URL", value_name = "RAIKO_URL", default_value = "http://127.0.0.1:8080",
          value_parser = parse_rpc_url, hide_env_values = true)]
    pub raiko_url: Url,

    /// Sent to Raiko as X-API-KEY (optional)
    #[arg(
        long,
        env = "RAIKO_API_KEY",
        value_name = "RAIKO_API_KEY",
        hide_env_values = true
    )]
    pub raiko_api_key: Option<String>,

    /// Proof system Raiko runs: sp1, risc0 or zisk (also selects the SubProof bit flag)
    #[arg(long, env = "PROOF_TYPE", value_name = "PROOF_TYPE", default_value = "sp1",
          value_parser = ProofType::parse, hide_env_values = true)]
    pub proof_type: ProofType,

    /// Time between two polls of a proof request, in milliseconds
    #[arg(long, env = "RAIKO_POLL_INTERVAL_MS", value_name = "RAIKO_POLL_INTERVAL_MS", default_value = "2000",
          value_parser = ms, hide_env_values = true)]
    pub raiko_poll_interval_ms: u64,

    /// Most polls of one proof request before it counts as failed
    #[arg(long, env = "RAIKO_MAX_RETRIES", value_name = "RAIKO_MAX_RETRIES", default_value = "60",
          value_parser = |r: &str| parse_bounded(r, 1, 10_000, "polls"), hide_env_values = true)]
    pub raiko_max_retries: u64,

    /// Timeout of one HTTP request to Raiko, in seconds
    #[arg(long, env = "RAIKO_TIMEOUT_SEC", value_name = "RAIKO_TIMEOUT_SEC", default_value = "30",
          value_parser = |r: &str| parse_bounded(r, 1, 600, "seconds"), hide_env_values = true)]
    pub raiko_timeout_sec: u64,

    /// Overall deadline of one proof, polls included, in seconds
    #[arg(long, env = "RAIKO_DEADLINE_SEC", value_name = "RAIKO_DEADLINE_SEC", default_value = "180",
          value_parser = |r: &str| parse_bounded(r, 1, 3_600, "seconds"), hide_env_values = true)]
    pub raiko_deadline_sec: u64,

    /// Whether Raiko may keep a finished proof in its cache (`use_cache`; false: it hands the
    /// proof out once and evicts it)
    #[arg(long, env = "RAIKO_USE_CACHE", value_name = "RAIKO_USE_CACHE", default_value = "true",
          value_parser = parse_bool, action = clap::ArgAction::Set, hide_env_values = true)]
    pub raiko_use_cache: bool,

    /// Requests a minute the node sends Raiko at most (Raiko's own limit per API key is
    /// RAIKO_RATE_LIMIT, 600 by default)
    #[arg(long, env = "RAIKO_MAX_REQUESTS_PER_MIN", value_name = "RAIKO_MAX_REQUESTS_PER_MIN",
          default_value = "300", value_parser = |r: &str| parse_bounded(r, 1, 100_000, "requests"), hide_env_values = true)]
    pub raiko_max_requests_per_min: u64,

    /// Proof requests per proposal (the first included) before the proposal is abandoned
    #[arg(long, env = "PROOF_MAX_ATTEMPTS", value_name = "PROOF_MAX_ATTEMPTS", default_value = "2",
          value_parser = |r: &str| parse_bounded(r, 1, 20, "attempts"), hide_env_values = true)]
    pub proof_max_attempts: u64,

    /// Send the proof under the MOCK_ECDSA flag (1) instead of PROOF_TYPE's
    #[arg(long, env = "MOCK_MODE", value_name = "MOCK_MODE", default_value = "false",
          value_parser = parse_bool, action = clap::ArgAction::Set, hide_env_values = true)]
    pub mock_mode: bool,

    /// Encrypt blob payloads with AES-256-GCM (scheme 0x01)
    #[arg(long, env = "SURGE_PRIVACY_MODE", value_name = "SURGE_PRIVACY_MODE", default_value = "false",
          value_parser = parse_bool, action = clap::ArgAction::Set, hide_env_values = true)]
    pub surge_privacy_mode: bool,

    /// 32-byte hex key of privacy mode (0x optional); required when SURGE_PRIVACY_MODE=true
    #[arg(
        long,
        env = "SURGE_PRIVACY_SYMMETRIC_KEY",
        value_name = "SURGE_PRIVACY_SYMMETRIC_KEY",
        hide_env_values = true
    )]
    pub surge_privacy_symmetric_key: Option<String>,

    /// 32-byte hex secp256k1 secret that opens forced inclusions sealed to the rollup (scheme
    /// 0x02); must be the one Raiko's host has, or unset when Raiko has none
    #[arg(
        long,
        env = "SURGE_PRIVACY_FI_PRIVKEY",
        value_name = "SURGE_PRIVACY_FI_PRIVKEY",
        hide_env_values = true
    )]
    pub surge_privacy_fi_privkey: Option<String>,

    /// Sealed proposals proved at the same time (they still land strictly in order)
    #[arg(long, env = "MAX_PROPOSALS_IN_FLIGHT", value_name = "MAX_PROPOSALS_IN_FLIGHT", default_value = "3",
          value_parser = |r: &str| parse_bounded(r, 1, 32, "proposals"), hide_env_values = true)]
    pub max_proposals_in_flight: u64,

    /// Cross-chain user ops and the surge_* RPC.
    #[command(flatten)]
    pub bridge: BridgeArgs,

    /// Phylax Credible Layer assertion checks.
    #[command(flatten)]
    pub credible_layer: CredibleLayerArgs,
}

/// The validated realtime configuration.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    /// The L1 RealTimeInbox.
    pub inbox: Address,
    /// The L2 Anchor contract.
    pub anchor: Address,
    /// Engine auth RPC.
    pub l2_auth_rpc_url: Url,
    /// Driver REST base URL.
    pub l2_driver_url: Url,
    /// JWT secret file.
    pub jwt_secret_file: PathBuf,
    /// The secret read from it.
    pub jwt: JwtAuth,
    /// `preconfBlocks` timeout.
    pub driver_preconf_timeout: Duration,
    /// status/reorg timeout.
    pub driver_status_timeout: Duration,
    /// Retry budget of idempotent driver calls.
    pub driver_retry_budget: Duration,
    /// Beacon API.
    pub l1_beacon_url: Url,
    /// Fallback L1 slot length.
    pub l1_slot: Duration,
    /// Never prove or propose.
    pub preconf_only: bool,
    /// When to build a block.
    pub block_policy: BlockPolicy,
    /// When to seal a proposal.
    pub proposal_limits: ProposalLimits,
    /// How long before an L1 slot its proposal is sealed.
    pub seal_lead: Duration,
    /// Anchor lag behind the L1 head.
    pub anchor_lag: u64,
    /// Tx-list byte budget per block.
    pub max_bytes_per_tx_list: u64,
    /// Proving.
    pub prover: ProverConfig,
    /// The privacy-mode key, when blob payloads are encrypted.
    pub privacy_key: Option<Secret<[u8; 32]>>,
    /// The secret that opens forced inclusions sealed to the rollup (scheme 0x02).
    pub fi_privkey: Option<Secret<[u8; 32]>>,
    /// Proposals proved concurrently.
    pub max_in_flight: usize,
    /// Forced inclusions one proposal consumes at most.
    pub fi_max_per_proposal: u64,
    /// Cross-chain user ops and the surge_* RPC.
    pub bridge: BridgeConfig,
    /// The Credible Layer client's settings (`None`: no client).
    pub credible_layer: Option<CredibleLayerConfig>,
}

fn parse_privacy_key(args: &RealtimeArgs) -> Result<Option<Secret<[u8; 32]>>, ConfigError> {
    if !args.surge_privacy_mode {
        return Ok(None);
    }
    let Some(raw) = &args.surge_privacy_symmetric_key else {
        return Err(ConfigError::Missing {
            var: "SURGE_PRIVACY_SYMMETRIC_KEY",
            expected: "SURGE_PRIVACY_MODE=true needs the 32-byte AES key as 64 hex digits".into(),
        });
    };
    let raw = raw.trim();
    let hex = raw.strip_prefix("0x").unwrap_or(raw);
    let bytes = alloy::primitives::hex::decode(hex).ok();
    match bytes.as_deref().map(<[u8; 32]>::try_from) {
        Some(Ok(key)) => Ok(Some(Secret::new(key))),
        _ => Err(ConfigError::Invalid {
            var: "SURGE_PRIVACY_SYMMETRIC_KEY",
            shown: describe_secret_input(raw),
            expected: "32 bytes as 64 hex digits, 0x optional".into(),
        }),
    }
}

/// The forced-inclusion secret, checked to be a secp256k1 key: a wrong one is refused at
/// start-up, not found out when an inclusion's block differs from Raiko's.
fn parse_fi_privkey(args: &RealtimeArgs) -> Result<Option<Secret<[u8; 32]>>, ConfigError> {
    let Some(raw) = &args.surge_privacy_fi_privkey else {
        return Ok(None);
    };
    let raw = raw.trim();
    let hex = raw.strip_prefix("0x").unwrap_or(raw);
    let bytes = alloy::primitives::hex::decode(hex).ok();
    let key = bytes.as_deref().map(<[u8; 32]>::try_from);
    match key {
        Some(Ok(key)) if alloy::signers::local::PrivateKeySigner::from_slice(&key).is_ok() => {
            Ok(Some(Secret::new(key)))
        }
        _ => Err(ConfigError::Invalid {
            var: "SURGE_PRIVACY_FI_PRIVKEY",
            shown: describe_secret_input(raw),
            expected: "a secp256k1 secret key: 32 bytes as 64 hex digits, 0x optional".into(),
        }),
    }
}

impl RealtimeConfig {
    /// Checks required values and cross-field rules.
    pub fn resolve(args: &RealtimeArgs) -> Result<Self, ConfigError> {
        let inbox = args.realtime_inbox_address.ok_or(ConfigError::Missing {
            var: "REALTIME_INBOX_ADDRESS",
            expected: "set it to the L1 RealTimeInbox contract address (0x…)".into(),
        })?;
        let privacy_key = parse_privacy_key(args)?;
        let fi_privkey = parse_fi_privkey(args)?;
        // Encryption adds its nonce and tag to the sealed (plaintext) payload.
        let max_payload_bytes = args.blobs_per_batch as usize * MAX_BLOB_PAYLOAD
            - if privacy_key.is_some() {
                common::codec::privacy::OVERHEAD
            } else {
                0
            };
        // One block's list must fit a proposal even if it does not compress at all.
        if args.max_bytes_per_tx_list as usize + 1024 > max_payload_bytes {
            return Err(ConfigError::Invalid {
                var: "MAX_BYTES_PER_TX_LIST",
                shown: args.max_bytes_per_tx_list.to_string(),
                expected: format!(
                    "at most {} so one block fits BLOBS_PER_BATCH={} blobs",
                    max_payload_bytes - 1024,
                    args.blobs_per_batch
                ),
            });
        }
        let max_blocks = match args.max_blocks_per_batch {
            0 => DERIVATION_SOURCE_MAX_BLOCKS,
            n => n,
        } as usize;
        Ok(Self {
            inbox,
            anchor: args.anchor_address,
            l2_auth_rpc_url: args.l2_auth_rpc_url.clone(),
            l2_driver_url: args.l2_driver_url.clone(),
            jwt_secret_file: args.jwt_secret_file_path.clone(),
            jwt: JwtAuth::from_file(&args.jwt_secret_file_path).map_err(|e| {
                ConfigError::Invalid {
                    var: "JWT_SECRET_FILE_PATH",
                    shown: args.jwt_secret_file_path.display().to_string(),
                    expected: format!(
                        "a readable file holding 32 bytes as 64 hex digits, 0x optional ({})",
                        e.reason()
                    ),
                }
            })?,
            driver_preconf_timeout: Duration::from_millis(args.rpc_driver_preconf_timeout_ms),
            driver_status_timeout: Duration::from_millis(args.rpc_driver_status_timeout_ms),
            driver_retry_budget: Duration::from_millis(args.rpc_driver_retry_timeout_ms),
            l1_beacon_url: args.l1_beacon_url.clone(),
            l1_slot: Duration::from_secs(args.l1_slot_duration_sec),
            preconf_only: args.preconf_only,
            block_policy: BlockPolicy {
                min_txs: args.preconf_min_txs,
                max_skipped_slots: args.preconf_max_skipped_l2_slots,
                max_time_shift_sec: args.max_time_shift_between_blocks_sec,
                l1_slot_sec: args.l1_slot_duration_sec,
            },
            seal_lead: Duration::from_millis(args.proposal_seal_lead_ms),
            proposal_limits: ProposalLimits {
                max_payload_bytes,
                max_blocks,
                max_time_shift_sec: args.max_time_shift_between_blocks_sec,
                max_anchor_age: 256 - args.max_anchor_height_offset_reduction_value,
            },
            anchor_lag: args.anchor_l1_height_lag,
            max_bytes_per_tx_list: args.max_bytes_per_tx_list,
            prover: ProverConfig {
                url: args.raiko_url.clone(),
                api_key: args
                    .raiko_api_key
                    .clone()
                    .filter(|k| !k.is_empty())
                    .map(Secret::new),
                proof_type: args.proof_type,
                poll_interval: Duration::from_millis(args.raiko_poll_interval_ms),
                max_polls: args.raiko_max_retries,
                request_timeout: Duration::from_secs(args.raiko_timeout_sec),
                deadline: Duration::from_secs(args.raiko_deadline_sec),
                attempts: args.proof_max_attempts as u32,
                use_cache: args.raiko_use_cache,
                max_requests_per_minute: usize::try_from(args.raiko_max_requests_per_min)
                    .unwrap_or(usize::MAX),
                flag: if args.mock_mode {
                    MOCK_ECDSA_FLAG
                } else {
                    args.proof_type.flag()
                },
            },
            privacy_key,
            fi_privkey,
            max_in_flight: args.max_proposals_in_flight as usize,
            fi_max_per_proposal: args.fi_max_per_proposal,
            bridge: BridgeConfig::resolve(&args.bridge)?,
            credible_layer: CredibleLayerConfig::resolve(&args.credible_layer)?,
        })
    }
}

#[cfg(test)]
mod tests;
