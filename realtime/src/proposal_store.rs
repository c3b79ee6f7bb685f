//! Sealed proposals that have not landed yet (`proposals` in the node's fjall database), and
//! the next proposal id (`meta`), so a restart neither reuses an id nor forgets a proposal:
//! it resubmits what still continues the inbox's head and reorgs the rest away.

use alloy::primitives::{B256, Bytes};
use common::ids::{ProposalId, SignalSlot};
use serde::{Deserialize, Serialize};

use crate::{
    bridge::{
        signals::ReturnSignals,
        status::{ReadyOp, Retry, StatusKey},
    },
    forced_inclusion::ForcedSource,
    proposal::SealedProposal,
};

/// The L2 block a proposal ends at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct L2Checkpoint {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// State root.
    pub state_root: B256,
}

/// What proving and proposing a sealed proposal needs (the blocks themselves are in the payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalRecord {
    /// The node's id.
    pub id: ProposalId,
    /// `maxAnchorBlockNumber`.
    pub anchor: u64,
    /// Number of its first block.
    pub first_block: u64,
    /// Parent of its first block: the `lastFinalizedBlockHash` it must be proved on.
    pub parent_hash: B256,
    /// Its last block.
    pub checkpoint: L2Checkpoint,
    /// Its signal slots, in order.
    pub signal_slots: Vec<SignalSlot>,
    /// The plaintext blob payload `frame(0x00 ‖ zlib(rlp(manifest)))`.
    pub payload: Bytes,
    /// User ops its first block carries; they run on L1 before the propose.
    #[serde(default)]
    pub user_ops: Vec<ReadyOp>,
    /// L2→L1→L2 txs of its first block and the return signals they need: the last
    /// `returns.slots.len()` of `signal_slots`, sent on L1 only by its L1 calls.
    #[serde(default)]
    pub returns: ReturnSignals,
    /// When each of its blocks was preconfirmed (unix ms), first to last.
    #[serde(default)]
    pub preconfirmed_at_ms: Vec<u64>,
    /// Its blocks' hashes, first to last (Raiko's proof cache key; empty in records stored
    /// before the node kept them).
    #[serde(default)]
    pub block_hashes: Vec<B256>,
    /// The forced inclusions its first blocks are, in queue order (`numForcedInclusions`).
    #[serde(default)]
    pub forced: Vec<ForcedSource>,
}

impl ProposalRecord {
    /// The record of a sealed proposal; `None` for one without blocks (never sealed).
    pub fn of(proposal: &SealedProposal) -> Option<Self> {
        let first = proposal.blocks.first()?;
        let last = proposal.checkpoint()?;
        Some(Self {
            id: proposal.id,
            anchor: proposal.anchor.number,
            first_block: first.header.number,
            parent_hash: first.header.parent_hash,
            checkpoint: L2Checkpoint {
                number: last.number,
                hash: last.hash,
                state_root: last.state_root,
            },
            signal_slots: proposal.signal_slots.clone(),
            payload: Bytes::from(proposal.payload.clone()),
            user_ops: proposal.user_ops.clone(),
            returns: proposal.returns.clone(),
            preconfirmed_at_ms: proposal
                .blocks
                .iter()
                .map(|b| b.preconfirmed_at_ms)
                .collect(),
            block_hashes: proposal.blocks.iter().map(|b| b.header.hash).collect(),
            forced: proposal.forced.clone(),
        })
    }

    /// What carries a status with it: its user ops and its L2→L1→L2 txs.
    pub fn status_keys(&self) -> Vec<StatusKey> {
        self.user_ops
            .iter()
            .map(|op| StatusKey::Op(op.id))
            .chain(self.returns.tracked().map(|h| StatusKey::Tx(*h)))
            .collect()
    }

    /// What goes back to Pending if it is abandoned for a cause not its own.
    pub fn retries(&self) -> Vec<Retry> {
        self.user_ops
            .iter()
            .map(|op| Retry::Ready(op.clone()))
            .chain(self.returns.tracked().map(|h| Retry::Tx(*h)))
            .collect()
    }

    /// Its signal slots split into those sent before the propose (by its user ops) and the
    /// required return signals its L1 calls send.
    pub fn existing_and_required(&self) -> (&[SignalSlot], &[SignalSlot]) {
        let split = self
            .signal_slots
            .len()
            .saturating_sub(self.returns.slots.len());
        self.signal_slots.split_at(split)
    }

    /// The user ops and tracked txs that a revert message names: those whose own signal slot
    /// (an op's L1→L2 message, a tx's answer) appears in it, as `SignalSlotNotSent(slot)` or
    /// `RequiredSignalNotSent(slot)` carry it. Their prediction no longer holds; nobody else's
    /// fault.
    pub fn named_in(&self, revert: &str) -> Vec<StatusKey> {
        let revert = revert.to_ascii_lowercase();
        let named = |slot: &SignalSlot| revert.contains(&alloy::hex::encode(slot.0));
        let ops = self
            .user_ops
            .iter()
            .filter(|op| op.messages.iter().any(|m| named(&m.slot)))
            .map(|op| StatusKey::Op(op.id));
        let txs = self
            .returns
            .answers_of()
            .into_iter()
            .filter(|(_, slots)| slots.iter().any(named))
            .map(|(tx, _)| StatusKey::Tx(tx));
        ops.chain(txs).collect()
    }

    /// Its block numbers, first to last.
    pub fn block_numbers(&self) -> Vec<u64> {
        (self.first_block..=self.checkpoint.number).collect()
    }
}

/// The store failed.
#[derive(Debug, thiserror::Error)]
pub enum ProposalStoreError {
    /// fjall failed.
    #[error("proposal store (DATA_DIR, keyspace proposals): {0}")]
    Store(#[from] fjall::Error),
    /// A record does not parse.
    #[error("stored proposal is unreadable: {0}")]
    Corrupt(String),
}

/// The `proposals` and `meta` keyspaces.
#[derive(Clone)]
pub struct ProposalStore {
    db: fjall::Database,
    proposals: fjall::Keyspace,
    meta: fjall::Keyspace,
}

const NEXT_ID: &[u8] = b"next_proposal_id";

impl ProposalStore {
    /// Opens (creating if needed) the keyspaces in `db`.
    pub fn open(db: &fjall::Database) -> Result<Self, ProposalStoreError> {
        Ok(Self {
            proposals: db.keyspace("proposals", fjall::KeyspaceCreateOptions::default)?,
            meta: db.keyspace("meta", fjall::KeyspaceCreateOptions::default)?,
            db: db.clone(),
        })
    }

    /// Records a sealed proposal and advances the next id past it; flushed to the OS before
    /// returning (it survives a killed process).
    pub fn put(&self, record: &ProposalRecord) -> Result<(), ProposalStoreError> {
        let value =
            serde_json::to_vec(record).map_err(|e| ProposalStoreError::Corrupt(e.to_string()))?;
        self.proposals.insert(record.id.0.to_be_bytes(), value)?;
        if record.id.0 >= self.next_id()? {
            self.meta.insert(NEXT_ID, (record.id.0 + 1).to_be_bytes())?;
        }
        self.db.persist(fjall::PersistMode::Buffer)?;
        Ok(())
    }

    /// Forgets a proposal (landed, or abandoned and reorged away).
    pub fn remove(&self, id: ProposalId) -> Result<(), ProposalStoreError> {
        self.proposals.remove(id.0.to_be_bytes())?;
        self.db.persist(fjall::PersistMode::Buffer)?;
        Ok(())
    }

    /// How many proposals are stored (sealed, not landed or abandoned yet).
    pub fn len(&self) -> Result<usize, ProposalStoreError> {
        let mut n = 0;
        for item in self.proposals.iter() {
            item.key()?;
            n += 1;
        }
        Ok(n)
    }

    /// Whether no proposal is stored.
    pub fn is_empty(&self) -> Result<bool, ProposalStoreError> {
        Ok(self.len()? == 0)
    }

    /// Whether the proposal is still stored (not landed, not abandoned).
    pub fn contains(&self, id: ProposalId) -> Result<bool, ProposalStoreError> {
        Ok(self.proposals.contains_key(id.0.to_be_bytes())?)
    }

    /// Every stored proposal, lowest id first.
    pub fn all(&self) -> Result<Vec<ProposalRecord>, ProposalStoreError> {
        let mut out = Vec::new();
        for item in self.proposals.iter() {
            let (_, value) = item.into_inner()?;
            out.push(
                serde_json::from_slice(&value)
                    .map_err(|e| ProposalStoreError::Corrupt(e.to_string()))?,
            );
        }
        Ok(out)
    }

    /// The id the next proposal gets (ids are never reused across restarts).
    pub fn next_id(&self) -> Result<u64, ProposalStoreError> {
        let stored = self.meta.get(NEXT_ID)?;
        let next = common::store::read_counter(stored.as_deref(), "proposals next_id")
            .map_err(|e| ProposalStoreError::Corrupt(e.to_string()))?;
        Ok(next.unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64) -> ProposalRecord {
        ProposalRecord {
            id: ProposalId(id),
            anchor: 3,
            first_block: id * 2,
            parent_hash: B256::repeat_byte(1),
            checkpoint: L2Checkpoint {
                number: id * 2 + 1,
                hash: B256::repeat_byte(2),
                state_root: B256::repeat_byte(3),
            },
            signal_slots: vec![SignalSlot(B256::repeat_byte(4))],
            payload: Bytes::from(vec![9; 100]),
            user_ops: vec![],
            returns: Default::default(),
            preconfirmed_at_ms: vec![],
            block_hashes: vec![],
            forced: vec![],
        }
    }

    #[test]
    fn proposals_and_the_next_id_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = common::store::open(dir.path()).unwrap();
            let store = ProposalStore::open(&db).unwrap();
            assert_eq!(store.next_id().unwrap(), 1);
            for id in [3, 1, 2] {
                store.put(&record(id)).unwrap();
            }
            store.remove(ProposalId(2)).unwrap();
            store.remove(ProposalId(3)).unwrap();
        }
        let db = common::store::open(dir.path()).unwrap();
        let store = ProposalStore::open(&db).unwrap();
        assert_eq!(store.all().unwrap(), vec![record(1)]);
        assert_eq!(
            store.next_id().unwrap(),
            4,
            "ids of landed proposals are not reused"
        );
        assert_eq!(record(1).block_numbers(), vec![2, 3]);
    }

    #[test]
    fn an_unreadable_id_counter_is_an_error_not_a_restart_at_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = common::store::open(dir.path()).unwrap();
        let store = ProposalStore::open(&db).unwrap();
        store.put(&record(5)).unwrap();
        store.meta.insert(NEXT_ID, [0u8; 3]).unwrap();
        let error = store.next_id().unwrap_err().to_string();
        assert!(error.contains("refusing to guess the next id"), "{error}");
        assert!(
            store.put(&record(6)).is_err(),
            "no put while the counter is unreadable"
        );
    }
}
