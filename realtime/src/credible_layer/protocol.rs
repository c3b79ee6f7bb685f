//! Every message the CredibleLayerClient receives: `CheckBlock` and `BlockCommitted` from the
//! batch manager's block task, the rest from its own connection, stream listeners and timers.

use std::time::Duration;

use common::{
    credible_layer::wire::{StreamAck, TransactionEnv, TransactionResult},
    work::Outcome,
};
use spawned_concurrency::message::Message;
use tokio::sync::oneshot;

use super::{
    check::{Candidate, Judgement},
    connection::{ConnectError, Link, StreamEnd},
    encode::{BlockHeaderEnv, CommittedBlock},
};

/// Judge a block's txs before it goes to the driver; the answer comes on `reply`, within the
/// budget (or fail-open).
pub struct CheckBlock {
    /// The block being built.
    pub env: BlockHeaderEnv,
    /// Its txs in block order.
    pub candidates: Vec<Candidate>,
    /// Each candidate as the sidecar runs it.
    pub tx_envs: Vec<TransactionEnv>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<CheckReply>,
}
impl Message for CheckBlock {
    type Result = ();
}

/// The answer to [`CheckBlock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReply {
    /// What to leave out.
    pub judgement: Judgement,
    /// The iteration the block was checked in (none: it was not sent).
    pub iteration: Option<u64>,
}

/// A block the driver inserted: the sidecar's head moves to it (`CommitHead`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockCommitted(pub CommittedBlock);
impl Message for BlockCommitted {
    type Result = ();
}

/// Time to (re)connect.
pub(super) struct Connect;
impl Message for Connect {
    type Result = ();
}

/// A connection attempt's outcome.
pub(super) struct Connected(pub Outcome<Result<Link, ConnectError>>);
impl Message for Connected {
    type Result = ();
}

/// An ack on connection `generation`'s event stream.
pub(super) struct Acked {
    pub generation: u64,
    pub ack: StreamAck,
}
impl Message for Acked {
    type Result = ();
}

/// A verdict pushed on connection `generation`'s results stream.
pub(super) struct Verdict {
    pub generation: u64,
    pub result: TransactionResult,
}
impl Message for Verdict {
    type Result = ();
}

/// One of connection `generation`'s streams ended.
pub(super) struct StreamEnded {
    pub generation: u64,
    pub outcome: Outcome<StreamEnd>,
}
impl Message for StreamEnded {
    type Result = ();
}

/// Check `seq`'s budget is spent.
pub(super) struct CheckDeadline {
    pub seq: u64,
}
impl Message for CheckDeadline {
    type Result = ();
}

/// Check `seq` still waits: ask for its missing verdicts (`GetTransactions`), and again
/// `every` until it ends.
pub(super) struct PollMissing {
    pub seq: u64,
    pub every: Duration,
}
impl Message for PollMissing {
    type Result = ();
}

/// What a `GetTransactions` poll for check `seq` found.
pub(super) struct Polled {
    pub seq: u64,
    pub outcome: Outcome<Result<Vec<TransactionResult>, tonic::Status>>,
}
impl Message for Polled {
    type Result = ();
}
