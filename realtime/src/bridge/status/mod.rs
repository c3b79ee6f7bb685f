//! Durable statuses of user ops and of tracked L2 txs (`user_ops`, `tx_status`,
//! `user_ops_ready`, `user_ops_expiry` and `user_ops_meta` in the node's fjall database). A
//! tracked tx is an L2→L1→L2 tx from the pool: `surge_txStatus {txHash}` follows it like an op.
//!
//! One writer thread owns every write, so ids are handed out in order and never reused (the
//! next id is committed with the op), and a status only ever moves forward: Pending →
//! ProvingBlock → Processing → Executed | Rejected. A final status is never overwritten. The
//! writer commits whatever queued up while it was syncing as one batch with one fsync (group
//! commit): an intake is answered only after its batch is on disk, without one fsync per op.

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use bindings::Call;
use common::{fork::unix_now, ids::UserOpId};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::message::BridgeMessage;

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

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    status: UserOpStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    op: Option<UserOp>,
    /// Unix seconds of the last change.
    updated: u64,
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

enum Write {
    Intake(UserOp, Reply<UserOpId>),
    Set(Vec<StatusKey>, UserOpStatus, Option<Reply<()>>),
    Ready(Box<ReadyOp>, Reply<()>),
    Sweep(u64, Reply<usize>),
}

/// Most writes committed as one batch.
const MAX_GROUP: usize = 1_024;
const NEXT_ID: &[u8] = b"next_user_op_id";

/// Handle to the user-op store: reads go straight to fjall, writes to the writer thread.
#[derive(Clone)]
pub struct StatusStore {
    ops: Keyspace,
    txs: Keyspace,
    ready: Keyspace,
    writes: mpsc::UnboundedSender<Write>,
}

struct Writer {
    db: Database,
    ops: Keyspace,
    txs: Keyspace,
    ready: Keyspace,
    expiry: Keyspace,
    meta: Keyspace,
    next_id: u64,
}

fn decode_entry(id: u64, raw: &[u8]) -> Result<Entry, StatusError> {
    serde_json::from_slice(raw).map_err(|e| StatusError::Corrupt(id, e.to_string()))
}

fn encode<T: Serialize>(id: u64, value: &T) -> Result<Vec<u8>, StatusError> {
    serde_json::to_vec(value).map_err(|e| StatusError::Corrupt(id, e.to_string()))
}

/// `at ‖ key`: 16 bytes for an op, 40 for a tx.
fn expiry_key(at: u64, key: &StatusKey) -> Vec<u8> {
    let mut out = at.to_be_bytes().to_vec();
    out.extend_from_slice(&key.bytes());
    out
}

/// The status key at the end of an expiry key.
fn key_of_expiry(raw: &[u8]) -> Option<StatusKey> {
    let rest = raw.get(8..)?;
    match rest.len() {
        8 => <[u8; 8]>::try_from(rest)
            .ok()
            .map(|b| StatusKey::Op(UserOpId(u64::from_be_bytes(b)))),
        32 => Some(StatusKey::Tx(B256::from_slice(rest))),
        _ => None,
    }
}

impl StatusStore {
    /// Opens (creating if needed) the keyspaces in `db` and starts the writer thread, which
    /// ends when the last handle is dropped.
    pub fn open(db: &Database) -> Result<Self, StatusError> {
        let open = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        let writer = Writer {
            db: db.clone(),
            ops: open("user_ops")?,
            txs: open("tx_status")?,
            ready: open("user_ops_ready")?,
            expiry: open("user_ops_expiry")?,
            meta: open("user_ops_meta")?,
            next_id: 1,
        };
        let next_id = writer
            .meta
            .get(NEXT_ID)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(1, u64::from_be_bytes);
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
        self.ask(|reply| Write::Set(ids.to_vec(), status, Some(reply)))
            .await
    }

    /// Like [`StatusStore::set`], for callers that cannot wait: ordered after every write
    /// queued before it; a failure is logged by the writer.
    pub fn set_soon(&self, ids: &[StatusKey], status: UserOpStatus) {
        if !ids.is_empty() {
            let _ = self.writes.send(Write::Set(ids.to_vec(), status, None));
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
    pub fn get_tx(&self, hash: B256) -> Result<Option<UserOpStatus>, StatusError> {
        self.txs
            .get(hash)?
            .map(|raw| decode_entry(0, &raw).map(|e| e.status))
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

/// Pending replies of one batch, answered after its commit.
enum Answer {
    Id(Reply<UserOpId>, UserOpId),
    Unit(Option<Reply<()>>),
    Count(Reply<usize>, usize),
    Failed(Option<Reply<()>>, StatusError),
}

impl Writer {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Write>) {
        while let Some(first) = rx.blocking_recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(w) => group.push(w),
                    Err(_) => break,
                }
            }
            self.commit(group);
        }
    }

    fn commit(&mut self, group: Vec<Write>) {
        let mut batch = self.db.batch();
        let mut overlay: Overlay = Default::default();
        let mut answers = Vec::with_capacity(group.len());
        let mut durable = false;
        let first_id = self.next_id;
        let now = unix_now();
        for write in group {
            match write {
                Write::Intake(op, reply) => {
                    durable = true;
                    let id = self.next_id;
                    self.next_id += 1;
                    let entry = Entry {
                        status: UserOpStatus::Pending,
                        op: Some(op),
                        updated: now,
                    };
                    match encode(id, &entry) {
                        Ok(value) => {
                            batch.insert(&self.ops, id.to_be_bytes(), value);
                            overlay.insert(StatusKey::Op(UserOpId(id)), Some(entry));
                            answers.push(Answer::Id(reply, UserOpId(id)));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
                Write::Set(ids, status, reply) => {
                    durable |= reply.is_some();
                    let mut failure = None;
                    for id in ids {
                        if let Err(e) = self.advance(&mut batch, &mut overlay, id, &status, now) {
                            failure = Some(e);
                        }
                    }
                    answers.push(match failure {
                        Some(e) => Answer::Failed(reply, e),
                        None => Answer::Unit(reply),
                    });
                }
                Write::Ready(op, reply) => {
                    let id = op.id.0;
                    let pending = self
                        .entry(&overlay, StatusKey::Op(op.id))
                        .map(|e| e.is_some_and(|e| e.status == UserOpStatus::Pending));
                    let outcome = match (pending, encode(id, &*op)) {
                        (Ok(true), Ok(value)) => {
                            batch.insert(&self.ready, id.to_be_bytes(), value);
                            Ok(())
                        }
                        (Ok(false), _) => Ok(()),
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    };
                    answers.push(match outcome {
                        Ok(()) => Answer::Unit(Some(reply)),
                        Err(e) => Answer::Failed(Some(reply), e),
                    });
                }
                Write::Sweep(cutoff, reply) => {
                    let mut removed = 0;
                    for item in self.expiry.range(..cutoff.to_be_bytes().to_vec()) {
                        let Ok(key) = item.key() else { break };
                        if let Some(tracked) = key_of_expiry(&key) {
                            batch.remove(self.keyspace(&tracked), tracked.bytes());
                            overlay.insert(tracked, None);
                        }
                        batch.remove(&self.expiry, key);
                        removed += 1;
                    }
                    answers.push(Answer::Count(reply, removed));
                }
            }
        }
        if self.next_id != first_id {
            batch.insert(&self.meta, NEXT_ID, self.next_id.to_be_bytes());
        }
        let mode = if durable {
            PersistMode::SyncAll
        } else {
            PersistMode::Buffer
        };
        let outcome = batch
            .commit()
            .and_then(|()| self.db.persist(mode))
            .map_err(StatusError::from);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "user-op statuses were not saved; the ops keep their previous status");
        }
        for answer in answers {
            match (answer, &outcome) {
                (Answer::Id(reply, id), Ok(())) => {
                    let _ = reply.send(Ok(id));
                }
                (Answer::Id(reply, _), Err(e)) => {
                    let _ = reply.send(Err(e.clone()));
                }
                (Answer::Unit(reply), outcome) => {
                    if let Some(reply) = reply {
                        let _ = reply.send(outcome.clone());
                    }
                }
                (Answer::Count(reply, n), outcome) => {
                    let _ = reply.send(outcome.clone().map(|()| n));
                }
                (Answer::Failed(reply, e), _) => match reply {
                    Some(reply) => {
                        let _ = reply.send(Err(e));
                    }
                    None => tracing::error!(error = %e, "a user-op status was not saved"),
                },
            }
        }
    }

    fn keyspace(&self, key: &StatusKey) -> &Keyspace {
        match key {
            StatusKey::Op(_) => &self.ops,
            StatusKey::Tx(_) => &self.txs,
        }
    }

    /// The entry as this batch has it so far.
    fn entry(&self, overlay: &Overlay, key: StatusKey) -> Result<Option<Entry>, StatusError> {
        if let Some(entry) = overlay.get(&key) {
            return Ok(entry.clone());
        }
        self.keyspace(&key)
            .get(key.bytes())?
            .map(|raw| decode_entry(key.id(), &raw))
            .transpose()
    }

    fn advance(
        &self,
        batch: &mut fjall::OwnedWriteBatch,
        overlay: &mut Overlay,
        key: StatusKey,
        status: &UserOpStatus,
        now: u64,
    ) -> Result<(), StatusError> {
        let existing = self.entry(overlay, key)?;
        let fresh = existing.is_none();
        let current = match (existing, key) {
            (Some(current), _) => current,
            // A tx is tracked from its first status on.
            (None, StatusKey::Tx(_)) => Entry {
                status: UserOpStatus::Pending,
                op: None,
                updated: now,
            },
            (None, StatusKey::Op(id)) => {
                tracing::debug!(
                    id = id.0,
                    "status for an unknown (or swept) user op ignored"
                );
                return Ok(());
            }
        };
        if status.rank() <= current.status.rank() && !fresh {
            return Ok(());
        }
        let entry = Entry {
            status: status.clone(),
            op: if status.is_final() { None } else { current.op },
            updated: now,
        };
        batch.insert(self.keyspace(&key), key.bytes(), encode(key.id(), &entry)?);
        if let StatusKey::Op(id) = key
            && (status.is_final() || current.status == UserOpStatus::Pending)
        {
            // Final, or taken into a block: no longer waiting for one.
            batch.remove(&self.ready, id.0.to_be_bytes());
        }
        if status.is_final() {
            batch.insert(&self.expiry, expiry_key(now, &key), []);
            let label = match status {
                UserOpStatus::Executed => "executed",
                _ => "rejected",
            };
            crate::metrics::bridge()
                .user_ops_final
                .with_label_values(&[label])
                .inc();
        }
        overlay.insert(key, Some(entry));
        Ok(())
    }
}

/// Entries written earlier in the batch being built (`None`: removed).
type Overlay = std::collections::HashMap<StatusKey, Option<Entry>>;

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
            store.get_tx(B256::repeat_byte(7)).unwrap(),
            Some(UserOpStatus::ProvingBlock { block_id: 4 }),
            "a tx status never moves back either"
        );
        store.set(&[tx], UserOpStatus::Executed).await.unwrap();
        assert_eq!(store.get(UserOpId(0)).unwrap(), None, "txs are not ops");
        assert_eq!(store.sweep_final_before(unix_now() + 2).await.unwrap(), 1);
        assert_eq!(store.get_tx(B256::repeat_byte(7)).unwrap(), None);
    }

    #[tokio::test]
    async fn concurrent_intakes_get_distinct_ids() {
        let dir = tempfile::tempdir().unwrap();
        let db = common::store::open(dir.path()).unwrap();
        let store = StatusStore::open(&db).unwrap();
        let tasks: Vec<_> = (0..200u8)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move { store.intake(op(n)).await.unwrap() })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().0);
        }
        ids.sort_unstable();
        assert_eq!(ids, (1..=200).collect::<Vec<_>>());
    }
}
