//! The tx manager's journal (`l1_txs` in the node's fjall database): every signed transaction
//! is written here, and flushed to the OS, before it is broadcast. After a crash the node finds
//! each nonce it used, the hashes it may have been mined under, and the last signed bytes to
//! re-broadcast, so it resumes instead of re-proposing or leaving a nonce gap.

use alloy::primitives::{B256, Bytes};
use serde::{Deserialize, Serialize};

use crate::{ids::ProposalId, tx_manager::fees::Fees};

/// One nonce in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The proposer nonce.
    pub nonce: u64,
    /// Whose tx it is.
    pub proposal: ProposalId,
    /// Every hash published at this nonce, oldest first (any of them may be mined).
    pub hashes: Vec<B256>,
    /// The last signed tx in its network encoding (blob sidecar included).
    pub raw: Bytes,
    /// The fees of `raw`.
    pub fees: Fees,
    /// Its gas limit.
    pub gas_limit: u64,
}

/// The journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// fjall failed.
    #[error("L1 tx journal (DATA_DIR, keyspace l1_txs): {0}")]
    Store(#[from] fjall::Error),
    /// An entry does not parse (written by an incompatible version or damaged).
    #[error("L1 tx journal entry for nonce {nonce} is unreadable: {reason}")]
    Corrupt {
        /// The entry's nonce.
        nonce: u64,
        /// Why.
        reason: String,
    },
}

/// The `l1_txs` keyspace, keyed by big-endian nonce so entries iterate in nonce order.
#[derive(Clone)]
pub struct Journal {
    db: fjall::Database,
    txs: fjall::Keyspace,
}

impl Journal {
    /// Opens (creating if needed) the journal in `db`.
    pub fn open(db: &fjall::Database) -> Result<Self, JournalError> {
        let txs = db.keyspace("l1_txs", fjall::KeyspaceCreateOptions::default)?;
        Ok(Self {
            db: db.clone(),
            txs,
        })
    }

    /// Records `entry` and flushes it to the OS (it survives a killed process).
    pub fn put(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let value = serde_json::to_vec(entry).map_err(|e| JournalError::Corrupt {
            nonce: entry.nonce,
            reason: e.to_string(),
        })?;
        self.txs.insert(entry.nonce.to_be_bytes(), value)?;
        self.db.persist(fjall::PersistMode::Buffer)?;
        Ok(())
    }

    /// Forgets the nonce (its tx was mined, or never reached the mempool).
    pub fn remove(&self, nonce: u64) -> Result<(), JournalError> {
        self.txs.remove(nonce.to_be_bytes())?;
        self.db.persist(fjall::PersistMode::Buffer)?;
        Ok(())
    }

    /// All entries, lowest nonce first.
    pub fn entries(&self) -> Result<Vec<JournalEntry>, JournalError> {
        let mut entries = Vec::new();
        for item in self.txs.iter() {
            let (key, value) = item.into_inner()?;
            let nonce = <[u8; 8]>::try_from(key.as_ref()).map_or(0, u64::from_be_bytes);
            let entry = serde_json::from_slice(&value).map_err(|e| JournalError::Corrupt {
                nonce,
                reason: e.to_string(),
            })?;
            entries.push(entry);
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_reopen_in_nonce_order() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |nonce: u64| JournalEntry {
            nonce,
            proposal: ProposalId(nonce + 100),
            hashes: vec![B256::repeat_byte(nonce as u8)],
            raw: Bytes::from(vec![nonce as u8; 3]),
            fees: Fees {
                max_fee_per_gas: 3,
                max_priority_fee_per_gas: 1,
                max_fee_per_blob_gas: 2,
            },
            gas_limit: 21_000,
        };
        {
            let db = crate::store::open(dir.path()).unwrap();
            let journal = Journal::open(&db).unwrap();
            journal.put(&entry(300)).unwrap();
            journal.put(&entry(2)).unwrap();
            journal.put(&entry(7)).unwrap();
            journal.remove(7).unwrap();
        }
        let db = crate::store::open(dir.path()).unwrap();
        let entries = Journal::open(&db).unwrap().entries().unwrap();
        assert_eq!(entries, vec![entry(2), entry(300)]);
    }
}
