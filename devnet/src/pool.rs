//! The L2 stand-in's own transaction pool: user txs wait here (not in the L2 anvil, which only
//! ever executes what the driver stand-in is told to) until a preconfirmed block includes them.

use std::collections::HashMap;

use alloy::{
    consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable},
    eips::Encodable2718,
    primitives::{Address, B256},
};

/// A pooled transaction and its recovered sender.
#[derive(Debug, Clone)]
pub struct PooledTx {
    /// The signed transaction.
    pub tx: TxEnvelope,
    /// Its recovered sender.
    pub sender: Address,
}

/// Arrival-ordered pool.
#[derive(Debug, Default)]
pub struct Pool {
    txs: Vec<PooledTx>,
}

/// What a pool query may return (taikoAuth_txPoolContentWithMinTip's limits).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Block base fee: a tx whose max fee is below it cannot be included.
    pub base_fee: u128,
    /// Gas budget of the list.
    pub max_gas: u64,
    /// Byte budget of the list (uncompressed encoding, conservative).
    pub max_bytes: u64,
    /// Minimum effective tip.
    pub min_tip: u128,
}

impl Pool {
    /// Adds a tx; refuses a duplicate or an unsigned one.
    pub fn insert(&mut self, tx: TxEnvelope) -> Result<B256, String> {
        let hash = *tx.tx_hash();
        if self.txs.iter().any(|p| *p.tx.tx_hash() == hash) {
            return Err(format!("already known: {hash}"));
        }
        let sender = tx
            .recover_signer()
            .map_err(|e| format!("invalid signature: {e}"))?;
        if let Some(same_nonce) = self
            .txs
            .iter()
            .position(|p| p.sender == sender && p.tx.nonce() == tx.nonce())
        {
            // Replacement: the newer tx must pay more, as in geth.
            let old = &self.txs[same_nonce].tx;
            if tx.max_fee_per_gas() <= old.max_fee_per_gas() {
                return Err("replacement transaction underpriced".into());
            }
            self.txs.remove(same_nonce);
        }
        self.txs.push(PooledTx { tx, sender });
        Ok(hash)
    }

    /// A pooled tx by hash.
    pub fn get(&self, hash: &B256) -> Option<&PooledTx> {
        self.txs.iter().find(|p| p.tx.tx_hash() == hash)
    }

    /// Number of consecutive pooled txs of `sender` starting at `nonce`.
    pub fn pending_after(&self, sender: Address, nonce: u64) -> u64 {
        let mut next = nonce;
        while self
            .txs
            .iter()
            .any(|p| p.sender == sender && p.tx.nonce() == next)
        {
            next += 1;
        }
        next - nonce
    }

    /// Removes txs that a block included, and txs made stale by it.
    pub fn remove_included(&mut self, hashes: &[B256], nonces: &HashMap<Address, u64>) {
        self.txs.retain(|p| {
            !hashes.contains(p.tx.tx_hash())
                && nonces.get(&p.sender).is_none_or(|n| p.tx.nonce() >= *n)
        });
    }

    /// Puts back txs of reorged-out blocks, ahead of newer arrivals.
    pub fn reinsert_front(&mut self, txs: Vec<PooledTx>) {
        let mut front: Vec<PooledTx> = txs
            .into_iter()
            .filter(|p| self.get(p.tx.tx_hash()).is_none())
            .collect();
        front.append(&mut self.txs);
        self.txs = front;
    }

    /// Senders with pooled txs.
    pub fn senders(&self) -> Vec<Address> {
        let mut senders: Vec<Address> = self.txs.iter().map(|p| p.sender).collect();
        senders.sort();
        senders.dedup();
        senders
    }

    /// Executable txs in arrival order (nonces consecutive per sender from `nonces`), within the
    /// limits.
    pub fn select(&self, limits: Limits, nonces: &HashMap<Address, u64>) -> Vec<PooledTx> {
        let mut next = nonces.clone();
        let mut taken: Vec<PooledTx> = Vec::new();
        let (mut gas, mut bytes) = (0u64, 0u64);
        let mut progress = true;
        while progress {
            progress = false;
            for p in &self.txs {
                if taken.iter().any(|t| t.tx.tx_hash() == p.tx.tx_hash()) {
                    continue;
                }
                let expected = next.get(&p.sender).copied().unwrap_or(0);
                if p.tx.nonce() != expected
                    || p.tx.max_fee_per_gas() < limits.base_fee
                    || p.tx
                        .effective_tip_per_gas(limits.base_fee as u64)
                        .unwrap_or(0)
                        < limits.min_tip
                {
                    continue;
                }
                let size = p.tx.encode_2718_len() as u64;
                if gas + p.tx.gas_limit() > limits.max_gas || bytes + size > limits.max_bytes {
                    continue;
                }
                gas += p.tx.gas_limit();
                bytes += size;
                next.insert(p.sender, expected + 1);
                taken.push(p.clone());
                progress = true;
            }
        }
        taken
    }
}
