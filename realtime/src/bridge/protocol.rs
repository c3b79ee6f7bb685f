//! Every message the BridgeHandler receives: `TakeReadyOps` from the batch manager, the rest
//! internal (its own tasks, timers and RPC server).

use common::work::Outcome;
use spawned_concurrency::message::Message;

use super::{
    Route,
    rpc::Accepted,
    status::{ReadyOp, StatusError},
};

/// The ops ready for a block, oldest first, at most `max` (the batch manager asks before each
/// block; they stay ready until a recorded block carries them).
pub struct TakeReadyOps {
    /// How many at most.
    pub max: usize,
}
impl Message for TakeReadyOps {
    type Result = Result<Vec<ReadyOp>, StatusError>;
}

/// Listen on BRIDGE_RPC_ADDR (internal; again after a failed bind).
#[derive(Clone)]
pub(super) struct Bind;
impl Message for Bind {
    type Result = ();
}

/// Read what simulations need from the chains (internal).
#[derive(Clone)]
pub(super) struct ReadFacts;
impl Message for ReadFacts {
    type Result = ();
}

/// What simulations need was read, or not (internal).
pub(super) struct Facts(pub Outcome<Result<Route, crate::chain_read::ChainReadError>>);
impl Message for Facts {
    type Result = ();
}

/// Ops a previous run left were settled; the ones to simulate again (internal).
pub(super) struct Recovered(pub Outcome<Result<Vec<Accepted>, super::intake::RecoverError>>);
impl Message for Recovered {
    type Result = ();
}

/// An op `surge_sendUserOp` accepted (internal: from the RPC server).
pub(super) struct Incoming(pub Accepted);
impl Message for Incoming {
    type Result = ();
}

/// An op's intake simulation ended (internal).
pub(super) struct SimDone {
    pub op: Accepted,
    /// Whether to try again; a panic instead rejects the op (it may be what makes it panic).
    pub retry: Outcome<bool>,
}

/// Expired statuses were swept (or the sweep's task panicked).
pub(super) struct Swept(pub Outcome<()>);
impl Message for Swept {
    type Result = ();
}
impl Message for SimDone {
    type Result = ();
}

/// Simulations may go on after a pause (internal).
#[derive(Clone)]
pub(super) struct Resume;
impl Message for Resume {
    type Result = ();
}

/// Time to sweep expired statuses (internal).
#[derive(Clone)]
pub(super) struct Sweep;
impl Message for Sweep {
    type Result = ();
}
