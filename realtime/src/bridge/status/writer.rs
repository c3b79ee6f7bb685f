//! The user-op store's single writer: a thread that commits every write queued while it was
//! syncing as one batch with one fsync (group commit), hands out ids in order, and moves
//! statuses only forward (a retry is the one explicit step back, to Pending, and it counts).

use alloy::primitives::B256;
use common::{fork::unix_now, ids::UserOpId};
use fjall::{Database, Keyspace, PersistMode};
use serde::Serialize;
use tokio::sync::mpsc;

use super::{Entry, ReadyOp, Reply, Retry, StatusError, StatusKey, UserOp, UserOpStatus};

/// What the writer is asked to do.
pub(super) enum Write {
    /// A new op, Pending; answers its id.
    Intake(UserOp, Reply<UserOpId>),
    /// Moves statuses forward (with a note for a tracked tx's user).
    Set(
        Vec<StatusKey>,
        UserOpStatus,
        Option<String>,
        Option<Reply<()>>,
    ),
    /// A Pending op is simulated and waits for a block.
    Ready(Box<ReadyOp>, Reply<()>),
    /// Back to Pending after an abandoned proposal, or Rejected with the reason at the limit.
    Retry(Vec<Retry>, String, Option<Reply<()>>),
    /// Deletes final entries older than the cutoff.
    Sweep(u64, Reply<usize>),
}

/// Most writes committed as one batch.
const MAX_GROUP: usize = 1_024;
pub(super) const NEXT_ID: &[u8] = b"next_user_op_id";

pub(super) struct Writer {
    pub(super) max_attempts: u32,
    pub(super) db: Database,
    pub(super) ops: Keyspace,
    pub(super) txs: Keyspace,
    pub(super) ready: Keyspace,
    pub(super) expiry: Keyspace,
    pub(super) meta: Keyspace,
    pub(super) next_id: u64,
}

pub(super) fn decode_entry(id: u64, raw: &[u8]) -> Result<Entry, StatusError> {
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

/// Pending replies of one batch, answered after its commit.
enum Answer {
    Id(Reply<UserOpId>, UserOpId),
    Unit(Option<Reply<()>>),
    Count(Reply<usize>, usize),
    Failed(Option<Reply<()>>, StatusError),
}

impl Writer {
    pub(super) fn run(mut self, mut rx: mpsc::UnboundedReceiver<Write>) {
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
                        retries: 0,
                        note: None,
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
                Write::Set(ids, status, note, reply) => {
                    durable |= reply.is_some();
                    let mut failure = None;
                    for id in ids {
                        let change = Change {
                            status: &status,
                            note: note.as_deref(),
                            now,
                        };
                        if let Err(e) = self.advance(&mut batch, &mut overlay, id, change) {
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
                Write::Retry(items, reason, reply) => {
                    durable |= reply.is_some();
                    let mut failure = None;
                    for item in items {
                        if let Err(e) = self.retry(&mut batch, &mut overlay, item, &reason, now) {
                            failure = Some(e);
                        }
                    }
                    answers.push(match failure {
                        Some(e) => Answer::Failed(reply, e),
                        None => Answer::Unit(reply),
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
        change: Change<'_>,
    ) -> Result<(), StatusError> {
        let Change { status, note, now } = change;
        let existing = self.entry(overlay, key)?;
        let fresh = existing.is_none();
        let current = match (existing, key) {
            (Some(current), _) => current,
            // A tx is tracked from its first status on.
            (None, StatusKey::Tx(_)) => Entry {
                status: UserOpStatus::Pending,
                op: None,
                updated: now,
                retries: 0,
                note: None,
            },
            (None, StatusKey::Op(id)) => {
                tracing::debug!(
                    id = id.0,
                    "status for an unknown (or swept) user op ignored"
                );
                return Ok(());
            }
        };
        let forward = status.rank() > current.status.rank();
        let new_note = note.is_some_and(|n| current.note.as_deref() != Some(n));
        let noted =
            !current.status.is_final() && status.rank() == current.status.rank() && new_note;
        if !(fresh || forward || noted) {
            return Ok(());
        }
        let entry = Entry {
            status: if forward || fresh {
                status.clone()
            } else {
                current.status.clone()
            },
            op: if status.is_final() { None } else { current.op },
            updated: now,
            retries: current.retries,
            note: note.map(str::to_string).or(current.note),
        };
        self.put(
            batch,
            overlay,
            key,
            entry,
            current.status == UserOpStatus::Pending,
        )
    }

    /// Writes `entry` for `key` with what follows from its status: a final one leaves the
    /// ready ops and gets an expiry; one no longer Pending (`was_pending`) leaves them too.
    fn put(
        &self,
        batch: &mut fjall::OwnedWriteBatch,
        overlay: &mut Overlay,
        key: StatusKey,
        entry: Entry,
        was_pending: bool,
    ) -> Result<(), StatusError> {
        let status = &entry.status;
        batch.insert(self.keyspace(&key), key.bytes(), encode(key.id(), &entry)?);
        if let StatusKey::Op(id) = key
            && (status.is_final() || (was_pending && *status != UserOpStatus::Pending))
        {
            // Final, or taken into a block: no longer waiting for one.
            batch.remove(&self.ready, id.0.to_be_bytes());
        }
        if status.is_final() {
            batch.insert(&self.expiry, expiry_key(entry.updated, &key), []);
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

    /// One item of [`Write::Retry`]: back to Pending (ready again when its messages are at
    /// hand), or Rejected once it was in `max_attempts` proposals. Final and unknown entries
    /// are left alone.
    fn retry(
        &self,
        batch: &mut fjall::OwnedWriteBatch,
        overlay: &mut Overlay,
        item: Retry,
        reason: &str,
        now: u64,
    ) -> Result<(), StatusError> {
        let key = item.key();
        let Some(current) = self.entry(overlay, key)? else {
            return Ok(());
        };
        if current.status.is_final() {
            return Ok(());
        }
        let retries = current.retries + 1;
        if retries >= self.max_attempts {
            let status = UserOpStatus::Rejected {
                reason: format!(
                    "{reason}; it was in {retries} proposals that did not land and was not run, send it again"
                ),
            };
            tracing::info!(
                ?key,
                retries,
                "giving up on a user op or tx after its last attempt"
            );
            let entry = Entry {
                status,
                op: None,
                updated: now,
                retries,
                note: current.note,
            };
            return self.put(batch, overlay, key, entry, false);
        }
        tracing::info!(?key, retries, %reason, "its proposal was abandoned; back to Pending for a later block");
        if let Retry::Ready(op) = &item {
            batch.insert(&self.ready, op.id.0.to_be_bytes(), encode(op.id.0, op)?);
        }
        let entry = Entry {
            status: UserOpStatus::Pending,
            updated: now,
            retries,
            ..current
        };
        batch.insert(self.keyspace(&key), key.bytes(), encode(key.id(), &entry)?);
        overlay.insert(key, Some(entry));
        Ok(())
    }
}

/// A forward move of one status.
struct Change<'a> {
    status: &'a UserOpStatus,
    note: Option<&'a str>,
    now: u64,
}

/// Entries written earlier in the batch being built (`None`: removed).
type Overlay = std::collections::HashMap<StatusKey, Option<Entry>>;
