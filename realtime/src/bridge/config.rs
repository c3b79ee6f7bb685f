//! Settings of the `surge_*` RPC and the cross-chain flows (Catalyst's names where it has them).

use std::{net::SocketAddr, time::Duration};

use alloy::primitives::Address;
use common::config::{ConfigError, parse_address, parse_bounded};

use super::rpc::RpcLimits;

/// Cross-chain settings as `clap` reads them.
#[derive(Debug, Clone, clap::Args)]
pub struct BridgeArgs {
    /// Bind address of the unauthenticated surge_* JSON-RPC (HTTP and WS)
    #[arg(
        long,
        env = "BRIDGE_RPC_ADDR",
        value_name = "BRIDGE_RPC_ADDR",
        default_value = "127.0.0.1:4545",
        hide_env_values = true
    )]
    pub bridge_rpc_addr: SocketAddr,

    /// Seconds a final user-op status (Executed, Rejected) stays queryable
    #[arg(long, env = "USER_OP_STATUS_RETENTION_SEC", value_name = "USER_OP_STATUS_RETENTION_SEC",
          default_value = "86400", hide_env_values = true,
          value_parser = |r: &str| parse_bounded(r, 60, 90 * 86_400, "seconds"))]
    pub user_op_status_retention_sec: u64,

    /// Largest surge_* request body, in bytes
    #[arg(long, env = "BRIDGE_RPC_MAX_BODY_BYTES", value_name = "BRIDGE_RPC_MAX_BODY_BYTES",
          default_value = "524288", hide_env_values = true,
          value_parser = |r: &str| parse_bounded(r, 1_024, 16 << 20, "bytes"))]
    pub bridge_rpc_max_body_bytes: u64,

    /// Most calls in one surge_* JSON-RPC batch
    #[arg(long, env = "BRIDGE_RPC_MAX_BATCH", value_name = "BRIDGE_RPC_MAX_BATCH",
          default_value = "64", hide_env_values = true,
          value_parser = |r: &str| parse_bounded(r, 1, 1_000, "calls"))]
    pub bridge_rpc_max_batch: u64,

    /// Proposals a user op or L2→L1→L2 tx may be in before it is Rejected, when they are
    /// abandoned for a cause not its own (another op, a proof failure, a refused L1 tx)
    #[arg(long, env = "USER_OP_MAX_ATTEMPTS", value_name = "USER_OP_MAX_ATTEMPTS",
          default_value = "3", hide_env_values = true,
          value_parser = |r: &str| parse_bounded(r, 1, 100, "attempts"))]
    pub user_op_max_attempts: u64,

    /// Seconds an L2→L1→L2 tx whose answers L1 would not send is held back (waiting for the
    /// user ops it may expect) before it goes into a block without them
    #[arg(long, env = "RETURN_TX_HOLD_SEC", value_name = "RETURN_TX_HOLD_SEC",
          default_value = "30", hide_env_values = true,
          value_parser = |r: &str| parse_bounded(r, 1, 3_600, "seconds"))]
    pub return_tx_hold_sec: u64,

    /// L1 Multicall the proposal tx calls when it carries user ops or L1 calls
    #[arg(long, env = "PROPOSER_MULTICALL_ADDRESS", value_name = "PROPOSER_MULTICALL_ADDRESS",
          value_parser = parse_address, hide_env_values = true)]
    pub proposer_multicall_address: Option<Address>,

    /// L1 Bridge (sends L1→L2 messages, processes L2→L1 ones)
    #[arg(long, env = "L1_BRIDGE_ADDRESS", value_name = "L1_BRIDGE_ADDRESS",
          value_parser = parse_address, hide_env_values = true)]
    pub l1_bridge_address: Option<Address>,

    /// L2 Bridge (processes L1→L2 messages, sends L2→L1 ones)
    #[arg(long, env = "BRIDGE_L2_ADDRESS", value_name = "BRIDGE_L2_ADDRESS",
          value_parser = parse_address, hide_env_values = true)]
    pub bridge_l2_address: Option<Address>,

    /// L2 SignalService (its storage proves L2→L1 messages on L1)
    #[arg(long, env = "L2_SIGNAL_SERVICE_ADDRESS", value_name = "L2_SIGNAL_SERVICE_ADDRESS",
          value_parser = parse_address, hide_env_values = true)]
    pub l2_signal_service_address: Option<Address>,
}

/// The contracts cross-chain calls go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrossChainContracts {
    /// L1 proposer Multicall.
    pub multicall: Address,
    /// L1 Bridge.
    pub l1_bridge: Address,
    /// L2 Bridge.
    pub l2_bridge: Address,
    /// L2 SignalService.
    pub l2_signal_service: Address,
}

/// Resolved cross-chain settings.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Where the RPC listens.
    pub rpc_addr: SocketAddr,
    /// How long final statuses are kept.
    pub retention: Duration,
    /// RPC size limits.
    pub limits: RpcLimits,
    /// Proposals an op or tracked tx may be in (`USER_OP_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// How long an L2→L1→L2 tx without its answers is held back (`RETURN_TX_HOLD_SEC`).
    pub return_hold: Duration,
    /// `None`: no cross-chain calls (none of the four addresses is set).
    pub contracts: Option<CrossChainContracts>,
}

/// Connections the RPC serves at once.
const MAX_CONNECTIONS: u32 = 1_024;

impl BridgeConfig {
    /// The four addresses are all set or all unset.
    pub fn resolve(args: &BridgeArgs) -> Result<Self, ConfigError> {
        let named = [
            (
                "PROPOSER_MULTICALL_ADDRESS",
                args.proposer_multicall_address,
            ),
            ("L1_BRIDGE_ADDRESS", args.l1_bridge_address),
            ("BRIDGE_L2_ADDRESS", args.bridge_l2_address),
            ("L2_SIGNAL_SERVICE_ADDRESS", args.l2_signal_service_address),
        ];
        let contracts = match named {
            [
                (_, Some(multicall)),
                (_, Some(l1_bridge)),
                (_, Some(l2_bridge)),
                (_, Some(l2_ss)),
            ] => Some(CrossChainContracts {
                multicall,
                l1_bridge,
                l2_bridge,
                l2_signal_service: l2_ss,
            }),
            _ if named.iter().all(|(_, a)| a.is_none()) => None,
            _ => {
                let set: Vec<&str> = named
                    .iter()
                    .filter(|(_, a)| a.is_some())
                    .map(|(v, _)| *v)
                    .collect();
                let missing = named
                    .iter()
                    .find(|(_, a)| a.is_none())
                    .map_or("", |(v, _)| *v);
                return Err(ConfigError::Missing {
                    var: missing,
                    expected: format!(
                        "cross-chain user ops need all of PROPOSER_MULTICALL_ADDRESS, L1_BRIDGE_ADDRESS, BRIDGE_L2_ADDRESS and L2_SIGNAL_SERVICE_ADDRESS; only {} are set",
                        set.join(", ")
                    ),
                });
            }
        };
        Ok(Self {
            rpc_addr: args.bridge_rpc_addr,
            retention: Duration::from_secs(args.user_op_status_retention_sec),
            limits: RpcLimits {
                max_body_bytes: u32::try_from(args.bridge_rpc_max_body_bytes).unwrap_or(u32::MAX),
                max_batch: u32::try_from(args.bridge_rpc_max_batch).unwrap_or(u32::MAX),
                max_connections: MAX_CONNECTIONS,
            },
            max_attempts: u32::try_from(args.user_op_max_attempts).unwrap_or(u32::MAX),
            return_hold: Duration::from_secs(args.return_tx_hold_sec),
            contracts,
        })
    }

    /// `VAR=value` pairs for the start-up log.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let show = |a: Option<Address>| a.map_or_else(|| "unset".into(), |a| a.to_string());
        let c = self.contracts;
        vec![
            ("BRIDGE_RPC_ADDR", self.rpc_addr.to_string()),
            (
                "USER_OP_STATUS_RETENTION_SEC",
                self.retention.as_secs().to_string(),
            ),
            (
                "BRIDGE_RPC_MAX_BODY_BYTES",
                self.limits.max_body_bytes.to_string(),
            ),
            ("BRIDGE_RPC_MAX_BATCH", self.limits.max_batch.to_string()),
            ("USER_OP_MAX_ATTEMPTS", self.max_attempts.to_string()),
            ("RETURN_TX_HOLD_SEC", self.return_hold.as_secs().to_string()),
            ("PROPOSER_MULTICALL_ADDRESS", show(c.map(|c| c.multicall))),
            ("L1_BRIDGE_ADDRESS", show(c.map(|c| c.l1_bridge))),
            ("BRIDGE_L2_ADDRESS", show(c.map(|c| c.l2_bridge))),
            (
                "L2_SIGNAL_SERVICE_ADDRESS",
                show(c.map(|c| c.l2_signal_service)),
            ),
        ]
    }
}
