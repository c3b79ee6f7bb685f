//! Why a proposer tx did not get mined successfully, in words an operator can act on.

use alloy::{
    primitives::{Address, B256},
    rpc::types::TransactionReceipt,
};

use super::{fees::FeeError, journal::JournalError};
use crate::rpc::RpcError;

/// Why a transaction did not get mined successfully.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// L1 could not be read before anything was broadcast.
    #[error("L1 unavailable: {0}")]
    Rpc(#[from] RpcError),
    /// `eth_estimateGas` says the call reverts: nothing was sent.
    #[error("the transaction would revert (eth_estimateGas): {0}")]
    WouldRevert(String),
    /// The market is above the fee caps.
    #[error(transparent)]
    Fees(#[from] FeeError),
    /// The proposer cannot pay.
    #[error(
        "the proposer account {account} cannot pay for the transaction ({message}): fund it on L1"
    )]
    InsufficientFunds {
        /// The proposer address.
        account: Address,
        /// The node's message.
        message: String,
    },
    /// A lower nonce of ours is no longer used on chain (an L1 reorg dropped a mined tx), so
    /// this one cannot be mined until the gap is filled.
    #[error(
        "nonce {nonce} cannot be mined: the chain's next nonce is {chain} (an L1 reorg removed an earlier tx)"
    )]
    NonceGap {
        /// Our nonce.
        nonce: u64,
        /// The chain's `latest` count.
        chain: u64,
    },
    /// Another transaction was mined at our nonce.
    #[error("nonce {nonce} was used by a transaction this node did not send")]
    NonceTaken {
        /// The nonce.
        nonce: u64,
    },
    /// The node refused the transaction for a reason a retry does not fix.
    #[error("L1 refused the transaction: {0}")]
    Refused(String),
    /// Mined, but reverted.
    #[error("transaction {hash} reverted in L1 block {block}")]
    Reverted {
        /// The mined hash.
        hash: B256,
        /// Its block.
        block: u64,
        /// The receipt.
        receipt: Box<TransactionReceipt>,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The journal failed; without it a crash could double-send, so nothing is sent.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A journal entry's tx does not decode.
    #[error("the journaled tx at nonce {nonce} does not decode: {reason}")]
    BadJournalTx {
        /// The nonce.
        nonce: u64,
        /// Why.
        reason: String,
    },
}
