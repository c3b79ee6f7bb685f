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
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn op(n: u8) -> UserOp {
        UserOp {
            submitter: Address::repeat_byte(n),
            calldata: Bytes::from(vec![n; 3]),
        }
    }

    #[test]
    fn status_json_is_catalysts() {
        let cases = [
            (UserOpStatus::Pending, r#"{"status":"Pending"}"#.to_string()),
            (
                UserOpStatus::Processing {
                    tx_hash: B256::repeat_byte(0xab),
                },
                format!(
                    r#"{{"status":"Processing","tx_hash":"0x{}"}}"#,
                    "ab".repeat(32)
                ),
            ),
            (
                UserOpStatus::ProvingBlock { block_id: 42 },
                r#"{"status":"ProvingBlock","block_id":42}"#.to_string(),
            ),
            (
                UserOpStatus::Rejected {
                    reason: "no message".into(),
                },
                r#"{"status":"Rejected","reason":"no message"}"#.to_string(),
            ),
            (
                UserOpStatus::Executed,
                r#"{"status":"Executed"}"#.to_string(),
            ),
        ];
        for (status, json) in cases {
            assert_eq!(serde_json::to_string(&status).unwrap(), json);
            assert_eq!(serde_json::from_str::<UserOpStatus>(&json).unwrap(), status);
        }
    }

    #[tokio::test]
    async fn ids_survive_a_reopen_and_statuses_only_move_forward() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = {
            let db = common::store::open(dir.path()).unwrap();
            let store = StatusStore::open(&db).unwrap();
            let a = store.intake(op(1)).await.unwrap();
            let b = store.intake(op(2)).await.unwrap();
            assert_eq!((a, b), (UserOpId(1), UserOpId(2)));
            store
                .ready(ReadyOp {
                    id: b,
                    op: op(2),
                    messages: vec![],
                })
                .await
                .unwrap();
            store
                .set(&[a.into()], UserOpStatus::ProvingBlock { block_id: 7 })
                .await
                .unwrap();
            store.set(&[a.into()], UserOpStatus::Pending).await.unwrap();
            (a, b)
        };
        let db = common::store::open(dir.path()).unwrap();
        let store = StatusStore::open(&db).unwrap();
        assert_eq!(
            store.get(a).unwrap(),
            Some(UserOpStatus::ProvingBlock { block_id: 7 }),
            "a status never moves back"
        );
        let c = store.intake(op(3)).await.unwrap();
        assert_eq!(c, UserOpId(3), "ids are not reused after a reopen");
        assert_eq!(store.ready_ops(10).unwrap()[0].id, b);
        let unfinished: Vec<_> = store
            .unfinished()
            .unwrap()
            .into_iter()
            .map(|u| (u.id, u.ready))
            .collect();
        assert_eq!(unfinished, vec![(a, false), (b, true), (c, false)]);

        store
            .set(&[b.into()], UserOpStatus::Executed)
            .await
            .unwrap();
        store
            .set(
                &[b.into()],
                UserOpStatus::Rejected {
                    reason: "late".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            store.get(b).unwrap(),
            Some(UserOpStatus::Executed),
            "final is final"
        );
        assert!(
            store.ready_ops(10).unwrap().is_empty(),
            "a final op waits for no block"
        );
        assert_eq!(store.get(UserOpId(99)).unwrap(), None);

        assert_eq!(store.sweep(Duration::from_secs(3600)).await.unwrap(), 0);
        assert_eq!(store.sweep_final_before(unix_now() + 2).await.unwrap(), 1);
        assert_eq!(store.get(b).unwrap(), None, "swept after its retention");
        assert!(
            store.get(a).unwrap().is_some(),
            "unfinished ops are never swept"
        );
    }

    #[tokio::test]
    async fn a_tracked_tx_starts_at_its_first_status_moves_forward_and_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let db = common::store::open(dir.path()).unwrap();
        let store = StatusStore::open(&db).unwrap();
        let tx = StatusKey::Tx(B256::repeat_byte(7));
        assert_eq!(store.get_tx(B256::repeat_byte(7)).unwrap(), None);
        store
            .set(&[tx], UserOpStatus::ProvingBlock { block_id: 4 })
            .await
            .unwrap();
        store.set(&[tx], UserOpStatus::Pending).await.unwrap();
        assert_eq!(
            store
                .get_tx(B256::repeat_byte(7))
                .unwrap()
                .map(|t| t.status),
            Some(UserOpStatus::ProvingBlock { block_id: 4 }),
            "a tx status never moves back either"
        );
        store.set(&[tx], UserOpStatus::Executed).await.unwrap();
        assert_eq!(store.get(UserOpId(0)).unwrap(), None, "txs are not ops");
        assert_eq!(store.sweep_final_before(unix_now() + 2).await.unwrap(), 1);
        assert_eq!(store.get_tx(B256::repeat_byte(7)).unwrap(), None);
    }

    #[tokio::test]
    async fn a_retry_goes_back_to_pending_and_ready_until_the_attempts_run_out() {
        let dir = tempfile::tempdir().unwrap();
        let db = common::store::open(dir.path()).unwrap();
        let store = StatusStore::open_with(&db, 2).unwrap();
        let id = store.intake(op(1)).await.unwrap();
        let ready = ReadyOp {
            id,
            op: op(1),
            messages: vec![],
        };
        store.ready(ready.clone()).await.unwrap();
        let in_block = UserOpStatus::ProvingBlock { block_id: 3 };
        store.set(&[id.into()], in_block.clone()).await.unwrap();
        assert!(
            store.ready_ops(10).unwrap().is_empty(),
            "taken into a block"
        );

        store
            .retry(vec![Retry::Ready(ready.clone())], "proof failed".into())
            .await
            .unwrap();
        assert_eq!(store.get(id).unwrap(), Some(UserOpStatus::Pending));
        assert_eq!(
            store.ready_ops(10).unwrap(),
            vec![ready.clone()],
            "ready again"
        );
        store.set(&[id.into()], in_block).await.unwrap();
        store
            .retry(vec![Retry::Ready(ready)], "proof failed again".into())
            .await
            .unwrap();
        let Some(UserOpStatus::Rejected { reason }) = store.get(id).unwrap() else {
            panic!("rejected after its attempts");
        };
        assert!(
            reason.contains("proof failed again") && reason.contains("2 proposals"),
            "{reason}"
        );
        assert!(store.ready_ops(10).unwrap().is_empty());

        // A tracked tx: its note is kept, and a final status is never retried.
        let hash = B256::repeat_byte(9);
        store.track_soon(hash, UserOpStatus::Pending, Some("held back".into()));
        store
            .set(&[StatusKey::Tx(hash)], UserOpStatus::Executed)
            .await
            .unwrap();
        store
            .retry(vec![Retry::Tx(hash)], "late".into())
            .await
            .unwrap();
        let tracked = store.get_tx(hash).unwrap().unwrap();
        assert_eq!(tracked.status, UserOpStatus::Executed);
        assert_eq!(tracked.note.as_deref(), Some("held back"));
    }

    #[tokio::test]
    async fn concurrent_intakes_get_distinct_ids() {
        let dir = tempfile::tempdir().unwrap();
        let db = common::store::open(dir.path()).unwrap();
        let store = StatusStore::open(&db).unwrap();
        // All 200 intakes are in flight at once (one future each), racing for the counter.
        let intakes = (0..200u8).map(|n| store.intake(op(n)));
        let mut ids: Vec<u64> = futures::future::join_all(intakes)
            .await
            .into_iter()
            .map(|id| id.unwrap().0)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=200).collect::<Vec<_>>());
    }
}
