//! Our blocks and txs in the sidecar's wire format: big-endian U256 (32 bytes) and U128
//! (16 bytes) fields, raw 20-byte addresses and 32-byte hashes, as credible-sdk's
//! `crates/sidecar/src/transport/grpc/server.rs` (`decode_tx_env`, `decode_block_env`) reads them.

use crate::block_build::{BlockFrame, ParentBlock};
use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    eips::Typed2718,
    primitives::{Address, B256, U256},
};
use common::credible_layer::wire::{
    AccessListItem, Authorization, BlockEnv, CommitHead, NewIteration, TransactionEnv,
    TxExecutionId,
};

/// A number as the wire's 32-byte big-endian U256.
pub fn u256(n: U256) -> Vec<u8> {
    n.to_be_bytes::<32>().to_vec()
}

/// A block number or timestamp as the wire's 32-byte U256.
pub fn word(n: u64) -> Vec<u8> {
    u256(U256::from(n))
}

/// A number as the wire's 16-byte big-endian U128.
pub fn u128(n: u128) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

/// The header fields of the block being built (what `NewIteration` carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeaderEnv {
    /// Its number.
    pub number: u64,
    /// Its parent's hash.
    pub parent_hash: B256,
    /// Fee recipient.
    pub coinbase: Address,
    /// Timestamp, seconds.
    pub timestamp: u64,
    /// Gas limit (anchor included).
    pub gas_limit: u64,
    /// Base fee.
    pub base_fee: u64,
}

impl BlockHeaderEnv {
    /// The header of the block `frame` describes on `parent` (its gas limit counts the anchor's).
    pub fn of(parent: &ParentBlock, frame: &BlockFrame) -> Self {
        Self {
            number: parent.number + 1,
            parent_hash: parent.hash,
            coinbase: frame.coinbase,
            timestamp: frame.timestamp,
            gas_limit: frame.gas_limit + common::anchor::ANCHOR_GAS_LIMIT,
            base_fee: frame.base_fee,
        }
    }
}

/// `NewIteration` for a block. Taiko L2 blocks carry no beacon root and no blobs, so those
/// optional fields are left out.
pub fn new_iteration(env: &BlockHeaderEnv, iteration_id: u64) -> NewIteration {
    NewIteration {
        block_env: Some(BlockEnv {
            number: word(env.number),
            beneficiary: env.coinbase.to_vec(),
            timestamp: word(env.timestamp),
            gas_limit: env.gas_limit,
            basefee: env.base_fee,
            difficulty: word(0),
            prevrandao: None,
            blob_excess_gas_and_price: None,
        }),
        iteration_id,
        parent_block_hash: Some(env.parent_hash.to_vec()),
        parent_beacon_block_root: None,
    }
}

/// What `CommitHead` says of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommittedBlock {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
    /// Timestamp, seconds.
    pub timestamp: u64,
    /// Txs in it (anchor included).
    pub tx_count: u64,
    /// Its last tx.
    pub last_tx: Option<B256>,
    /// The iteration it was checked in.
    pub iteration: Option<u64>,
}

/// `CommitHead` for a block the driver inserted, selecting the iteration it was checked in
/// (0, which no iteration uses, when it was not checked).
pub fn commit_head(block: &CommittedBlock) -> CommitHead {
    CommitHead {
        last_tx_hash: block.last_tx.map(|h| h.to_vec()),
        n_transactions: block.tx_count,
        block_number: word(block.number),
        selected_iteration_id: block.iteration.unwrap_or(0),
        block_hash: block.hash.to_vec(),
        parent_beacon_block_root: None,
        timestamp: word(block.timestamp),
    }
}

/// A tx's id in an iteration.
pub fn execution_id(block: u64, iteration_id: u64, hash: B256, index: u64) -> TxExecutionId {
    TxExecutionId {
        block_number: word(block),
        iteration_id,
        tx_hash: hash.to_vec(),
        index,
    }
}

/// A signed tx as revm's `TxEnv` (the sidecar's `TransactionEnv`), sent by `caller`.
pub fn tx_env(tx: &TxEnvelope, caller: Address) -> TransactionEnv {
    let dynamic = tx.ty() >= 2;
    TransactionEnv {
        tx_type: u32::from(tx.ty()),
        caller: caller.to_vec(),
        gas_limit: tx.gas_limit(),
        gas_price: u128(if dynamic {
            tx.max_fee_per_gas()
        } else {
            tx.gas_price().unwrap_or_default()
        }),
        transact_to: tx.to().map(|to| to.to_vec()).unwrap_or_default(),
        value: u256(tx.value()),
        data: tx.input().to_vec(),
        nonce: tx.nonce(),
        chain_id: tx.chain_id(),
        access_list: tx
            .access_list()
            .map(|list| {
                list.iter()
                    .map(|item| AccessListItem {
                        address: item.address.to_vec(),
                        storage_keys: item.storage_keys.iter().map(|k| k.to_vec()).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        gas_priority_fee: tx.max_priority_fee_per_gas().filter(|_| dynamic).map(u128),
        blob_hashes: tx
            .blob_versioned_hashes()
            .map(|hashes| hashes.iter().map(|h| h.to_vec()).collect())
            .unwrap_or_default(),
        max_fee_per_blob_gas: tx.max_fee_per_blob_gas().map(u128).unwrap_or_default(),
        authorization_list: tx
            .authorization_list()
            .map(|list| {
                list.iter()
                    .map(|auth| Authorization {
                        chain_id: u256(auth.chain_id),
                        address: auth.address.to_vec(),
                        nonce: auth.nonce,
                        y_parity: u32::from(auth.y_parity()),
                        r: u256(auth.r()),
                        s: u256(auth.s()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxLegacy},
        primitives::{Signature, TxKind},
    };

    use super::*;

    fn signature() -> Signature {
        Signature::new(U256::from(1), U256::from(2), false)
    }

    #[test]
    fn fields_have_the_widths_the_sidecar_checks() {
        let to = Address::repeat_byte(7);
        let tx = TxEnvelope::Eip1559(
            TxEip1559 {
                chain_id: 167_001,
                nonce: 3,
                gas_limit: 50_000,
                max_fee_per_gas: 30,
                max_priority_fee_per_gas: 2,
                to: TxKind::Call(to),
                value: U256::from(5),
                ..Default::default()
            }
            .into_signed(signature()),
        );
        let env = tx_env(&tx, Address::repeat_byte(1));
        assert_eq!(env.tx_type, 2);
        assert_eq!(env.caller, vec![1; 20]);
        assert_eq!(env.gas_price.len(), 16);
        assert_eq!(env.gas_price[15], 30);
        assert_eq!(env.gas_priority_fee.as_deref().map(<[u8]>::len), Some(16));
        assert_eq!(env.value.len(), 32);
        assert_eq!(env.value[31], 5);
        assert_eq!(env.transact_to, to.to_vec());
        assert_eq!((env.nonce, env.chain_id), (3, Some(167_001)));
        assert!(env.max_fee_per_blob_gas.is_empty());

        let create = TxEnvelope::Legacy(
            TxLegacy {
                gas_price: 9,
                to: TxKind::Create,
                ..Default::default()
            }
            .into_signed(signature()),
        );
        let env = tx_env(&create, Address::ZERO);
        assert_eq!((env.tx_type, env.gas_price[15]), (0, 9));
        assert!(env.transact_to.is_empty() && env.gas_priority_fee.is_none());
    }

    #[test]
    fn an_iteration_names_its_block_and_parent() {
        let env = BlockHeaderEnv {
            number: 258,
            parent_hash: B256::repeat_byte(4),
            coinbase: Address::repeat_byte(2),
            timestamp: 1_000,
            gas_limit: 31_000_000,
            base_fee: 25_000_000,
        };
        let iteration = new_iteration(&env, 9);
        let block = iteration.block_env.unwrap_or_default();
        assert_eq!(block.number.len(), 32);
        assert_eq!(&block.number[30..], &[1, 2]);
        assert_eq!(block.beneficiary, vec![2; 20]);
        assert_eq!(iteration.parent_block_hash, Some(vec![4; 32]));
        assert_eq!(iteration.iteration_id, 9);
    }
}
