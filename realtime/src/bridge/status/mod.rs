//! Durable statuses of user ops and of tracked L2 txs (`user_ops`, `tx_status`,
//! `user_ops_ready`, `user_ops_expiry` and `user_ops_meta` in the node's fjall database). A
//! tracked tx is an L2→L1→L2 tx from the pool: `surge_txStatus {txHash}` follows it like an op.
//!
//! One writer thread owns every write, so ids are handed out in order and never reused (the
//! next id is committed with the op), and a status only moves forward: Pending →
//! ProvingBlock → Processing → Executed | Rejected. A final status is never overwritten. The
//! one step back is a retry: an op or tx whose proposal was abandoned for a cause that is not
//! its own goes back to Pending for a later block, at most `USER_OP_MAX_ATTEMPTS` times in
//! all, then it is Rejected with the last reason. The writer commits whatever queued up while
//! it was syncing as one batch with one fsync (group commit): an intake is answered only after
//! its batch is on disk, without one fsync per op.

mod writer;

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use bindings::Call;
use common::{fork::unix_now, ids::UserOpId};
use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::message::BridgeMessage;
use writer::{NEXT_ID, Write, Writer, decode_entry};

/// A user op's status, as `surge_userOpStatus` and `surge_txStatus` return it (tagged by
/// `"status"`, catalyst-reference §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status")]
pub enum UserOpStatus {
    /// Accepted; not in a block yet.
    Pending,
    /// The L1 tx carrying its proposal was sent (the first hash sent).
    Processing {
        /// The L1 tx hash.
        tx_hash: B256,
    },
    /// In a proposal being proved; `block_id` is the proposal's checkpoint block.
    ProvingBlock {
        /// L2 block number.
        block_id: u64,
    },
    /// It will not run; why.
    Rejected {
        /// For the user.
        reason: String,
    },
    /// Its L1 tx landed.
    Executed,
}

impl UserOpStatus {
    fn rank(&self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::ProvingBlock { .. } => 1,
            Self::Processing { .. } => 2,
            Self::Rejected { .. } | Self::Executed => 3,
        }
    }

    /// Executed or Rejected: it never changes again.
    pub fn is_final(&self) -> bool {
        self.rank() == 3
    }
}

/// What a user submits: the L1 contract to call and the full calldata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOp {
    /// L1 contract the op calls (e.g. a UserOpsSubmitter).
    pub submitter: Address,
    /// Its calldata.
    pub calldata: Bytes,
}

impl UserOp {
    /// The op as a call of the proposer Multicall.
    pub fn call(&self) -> Call {
        Call {
            target: self.submitter,
            value: U256::ZERO,
            data: self.calldata.clone(),
        }
    }
}

/// An op whose L1 simulation found its bridge messages; it waits for a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyOp {
    /// Its id.
    pub id: UserOpId,
    /// The op.
    pub op: UserOp,
    /// The L1→L2 messages it sends, in the order the L1 bridge numbers them.
    pub messages: Vec<BridgeMessage>,
}

/// An op that has not reached a final status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// Its id.
    pub id: UserOpId,
    /// Where it stands.
    pub status: UserOpStatus,
    /// The op (kept until it is final).
    pub op: Option<UserOp>,
    /// Simulated and waiting for a block.
    pub ready: bool,
}

/// A tracked tx's status and what the node adds to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedTx {
    /// Where it stands.
    pub status: UserOpStatus,
    /// What the user should know about how it got there (e.g. it was held back).
    pub note: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    status: UserOpStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    op: Option<UserOp>,
    /// Unix seconds of the last change.
    updated: u64,
    /// Proposals it was in that were abandoned for a cause not its own.
    #[serde(default, skip_serializing_if = "is_zero")]
    retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What goes back to Pending after its proposal was abandoned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// An op with its messages: ready for a block at once (the block's L1 run simulates it
    /// again before it goes in).
    Ready(ReadyOp),
    /// An op to simulate again before it is ready (its messages are not at hand).
    Resimulate(UserOpId),
    /// A tracked L2 tx: its block was reorged away and it is back in the pool.
    Tx(B256),
}

impl Retry {
    fn key(&self) -> StatusKey {
        match self {
            Self::Ready(op) => StatusKey::Op(op.id),
            Self::Resimulate(id) => StatusKey::Op(*id),
            Self::Tx(hash) => StatusKey::Tx(*hash),
        }
    }
}

/// The store failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StatusError {
    /// fjall failed.
    #[error("user-op store (DATA_DIR, keyspace user_ops): {0}")]
    Store(String),
    /// A record does not parse.
    #[error("stored user op {0} is unreadable: {1}")]
    Corrupt(u64, String),
    /// The writer thread is gone (the node is stopping).
    #[error("the user-op store's writer has stopped (the node is shutting down)")]
    Stopped,
}

impl From<fjall::Error> for StatusError {
    fn from(e: fjall::Error) -> Self {
        Self::Store(e.to_string())
    }
}

type Reply<T> = oneshot::Sender<Result<T, StatusError>>;

/// What a status belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKey {
    /// A user op.
    Op(UserOpId),
    /// An L2 tx taken from the pool whose L1 answer its block consumes.
    Tx(B256),
}

impl From<UserOpId> for StatusKey {
    fn from(id: UserOpId) -> Self {
        Self::Op(id)
    }
}

impl StatusKey {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Op(id) => id.0.to_be_bytes().to_vec(),
            Self::Tx(hash) => hash.to_vec(),
        }
    }

    /// The op id, or 0 for a tx (error messages only).
    fn id(&self) -> u64 {
        match self {
            Self::Op(id) => id.0,
            Self::Tx(_) => 0,
        }
    }
}

/// Attempts an op or tx gets unless configured otherwise (`USER_OP_MAX_ATTEMPTS`).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Handle to the user-op store: reads go straight to fjall, writes to the writer thread.
#[derive(Clone)]
pub struct StatusStore {
    ops: Keyspace,
    txs: Keyspace,
    ready: Keyspace,
    writes: mpsc::UnboundedSender<Write>,
}

impl StatusStore {
    /// Opens the store with [`DEFAULT_MAX_ATTEMPTS`].
    pub fn open(db: &Database) -> Result<Self, StatusError> {
        Self::open_with(db, DEFAULT_MAX_ATTEMPTS)
    }

    /// Opens (creating if needed) the keyspaces in `db` and starts the writer thread, which
    /// ends when the last handle is dropped. An op or tx is in at most `max_attempts`
    /// proposals before a retry rejects it.
    pub fn open_with(db: &Database, max_attempts: u32) -> Result<Self, StatusError> {
        let open = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        let writer = Writer {
            max_attempts: max_attempts.max(1),
            db: db.clone(),
            ops: open("user_ops")?,
            txs: open("tx_status")?,
            ready: open("user_ops_ready")?,
            expiry: open("user_ops_expiry")?,
            meta: open("user_ops_meta")?,
            next_id: 1,
        };
        let stored = writer.meta.get(NEXT_ID)?;
        let next_id = common::store::read_counter(stored.as_deref(), "user_ops_meta next_id")
            .map_err(|e| StatusError::Store(e.to_string()))?
            .unwrap_or(1);
        let (writes, rx) = mpsc::unbounded_channel();
        let store = Self {
            ops: writer.ops.clone(),
            txs: writer.txs.clone(),
            ready: writer.ready.clone(),
            writes,
        };
        std::thread::Builder::new()
            .name("user-op-writer".into())
            .spawn(move || Writer { next_id, ..writer }.run(rx))
            .map_err(|e| StatusError::Store(format!("cannot start the writer thread: {e}")))?;
        Ok(store)
    }

    async fn ask<T>(&self, write: impl FnOnce(Reply<T>) -> Write) -> Result<T, StatusError> {
        let (tx, rx) = oneshot::channel();
        self.writes
            .send(write(tx))
            .map_err(|_| StatusError::Stopped)?;
        rx.await.map_err(|_| StatusError::Stopped)?
    }

    /// Records a new op as Pending and returns its id once that is on disk.
    pub async fn intake(&self, op: UserOp) -> Result<UserOpId, StatusError> {
        self.ask(|reply| Write::Intake(op, reply)).await
    }

    /// Moves `ids` forward to `status` (a status that is not ahead of the current one, or an
    /// unknown id, is left alone); returns once that is on disk.
    pub async fn set(&self, ids: &[StatusKey], status: UserOpStatus) -> Result<(), StatusError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.ask(|reply| Write::Set(ids.to_vec(), status, None, Some(reply)))
            .await
    }

    /// Like [`StatusStore::set`], for callers that cannot wait: ordered after every write
    /// queued before it; a failure is logged by the writer.
    pub fn set_soon(&self, ids: &[StatusKey], status: UserOpStatus) {
        if !ids.is_empty() {
            let _ = self
                .writes
                .send(Write::Set(ids.to_vec(), status, None, None));
        }
    }

    /// Starts (or moves forward) a tracked tx's status with a note for its user; ordered like
    /// [`StatusStore::set_soon`].
    pub fn track_soon(&self, hash: B256, status: UserOpStatus, note: Option<String>) {
        let _ = self
            .writes
            .send(Write::Set(vec![StatusKey::Tx(hash)], status, note, None));
    }

    /// Sends ops and txs of an abandoned proposal back to Pending (see the module doc); one
    /// that used up its attempts is Rejected with `reason`. Returns once that is on disk.
    pub async fn retry(&self, items: Vec<Retry>, reason: String) -> Result<(), StatusError> {
        if items.is_empty() {
            return Ok(());
        }
        self.ask(|reply| Write::Retry(items, reason, Some(reply)))
            .await
    }

    /// Like [`StatusStore::retry`], for callers that cannot wait; ordered like
    /// [`StatusStore::set_soon`].
    pub fn retry_soon(&self, items: Vec<Retry>, reason: String) {
        if !items.is_empty() {
            let _ = self.writes.send(Write::Retry(items, reason, None));
        }
    }

    /// Marks a Pending op as simulated and ready for a block.
    pub async fn ready(&self, op: ReadyOp) -> Result<(), StatusError> {
        self.ask(|reply| Write::Ready(Box::new(op), reply)).await
    }

    /// Deletes ops that became final more than `retention` ago; returns how many.
    pub async fn sweep(&self, retention: Duration) -> Result<usize, StatusError> {
        self.sweep_final_before(unix_now().saturating_sub(retention.as_secs()))
            .await
    }

    /// Deletes ops that became final before `unix_secs`; returns how many.
    pub async fn sweep_final_before(&self, unix_secs: u64) -> Result<usize, StatusError> {
        self.ask(|reply| Write::Sweep(unix_secs, reply)).await
    }

    /// The op's status, if the id is known (and not swept).
    pub fn get(&self, id: UserOpId) -> Result<Option<UserOpStatus>, StatusError> {
        self.ops
            .get(id.0.to_be_bytes())?
            .map(|raw| decode_entry(id.0, &raw).map(|e| e.status))
            .transpose()
    }

    /// The status of a tracked L2 tx, if it is tracked (and not swept).
    pub fn get_tx(&self, hash: B256) -> Result<Option<TrackedTx>, StatusError> {
        self.txs
            .get(hash)?
            .map(|raw| {
                decode_entry(0, &raw).map(|e| TrackedTx {
                    status: e.status,
                    note: e.note,
                })
            })
            .transpose()
    }

    /// Up to `limit` ready ops, lowest id first.
    pub fn ready_ops(&self, limit: usize) -> Result<Vec<ReadyOp>, StatusError> {
        let mut out = Vec::new();
        for item in self.ready.iter().take(limit) {
            let (key, value) = item.into_inner()?;
            let id = <[u8; 8]>::try_from(key.as_ref()).map_or(0, u64::from_be_bytes);
            out.push(
                serde_json::from_slice(&value)
                    .map_err(|e| StatusError::Corrupt(id, e.to_string()))?,
            );
        }
        Ok(out)
    }

    /// Every op not final yet, lowest id first (a scan: for start-up).
    pub fn unfinished(&self) -> Result<Vec<Unfinished>, StatusError> {
        let mut out = Vec::new();
        for item in self.ops.iter() {
            let (key, value) = item.into_inner()?;
            let id = <[u8; 8]>::try_from(key.as_ref()).map_or(0, u64::from_be_bytes);
            let entry = decode_entry(id, &value)?;
            if !entry.status.is_final() {
                out.push(Unfinished {
                    id: UserOpId(id),
                    ready: self.ready.contains_key(key.as_ref())?,
                    status: entry.status,
                    op: entry.op,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
