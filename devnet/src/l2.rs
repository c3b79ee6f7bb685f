//! State the L2 stand-in's RPC and driver surfaces share: the L2 anvil behind them, the pool,
//! the JWT secret, and what the driver needs to validate blocks.

use alloy::{
    primitives::{Address, B256},
    providers::DynProvider,
};
use alloy_rpc_types_engine::JwtSecret;
use tokio::sync::Mutex;

use crate::{pool::Pool, rpc::Upstream};

/// The L2 stand-in (taiko-geth + driver surface) over one L2 anvil.
pub struct L2Node {
    /// The L2 anvil (raw JSON-RPC).
    pub evm: Upstream,
    /// The L2 anvil (typed).
    pub evm_provider: DynProvider,
    /// The L1, to check anchored checkpoints.
    pub l1: DynProvider,
    /// User txs waiting for a block.
    pub pool: Mutex<Pool>,
    /// Serialises block building and reorgs.
    pub build: Mutex<()>,
    /// Hash of the last block sent with `endOfSequencing`.
    pub end_of_sequencing: Mutex<B256>,
    /// Auth RPC and driver secret.
    pub jwt: JwtSecret,
    /// L2 chain id.
    pub chain_id: u64,
    /// The L2 Anchor contract.
    pub anchor: Address,
    /// The inbox's basefee-sharing percentage (first byte of `extraData`).
    pub basefee_sharing_pctg: u8,
    /// The block the inbox was activated with; reorgs cannot go below it.
    pub genesis_number: u64,
}
