//! Every message the Prover receives: `Prove` and `Cancel` from the submitter, the rest its own
//! timers' and tasks'.

use alloy::primitives::Bytes;
use common::ids::ProposalId;
use spawned_concurrency::message::Message;
use tokio::sync::oneshot;

use super::wire::{Answer, ProofError};

/// Prove a proposal: the first request's body (with blobs) and the status-only poll's.
pub struct Prove {
    /// The proposal.
    pub proposal: ProposalId,
    /// The full request.
    pub full: Bytes,
    /// The status-only poll.
    pub poll: Bytes,
    /// Where the proof (or why none) goes.
    pub reply: oneshot::Sender<Result<Bytes, ProofError>>,
}
impl Message for Prove {
    type Result = ();
}

/// Forget a proposal's job.
pub struct Cancel {
    /// The proposal.
    pub proposal: ProposalId,
}
impl Message for Cancel {
    type Result = ();
}

/// Time to send a job's next request (internal, on a timer).
#[derive(Clone)]
pub(super) struct Poll {
    pub proposal: ProposalId,
    pub generation: u64,
}
impl Message for Poll {
    type Result = ();
}

/// What a request got, from its task, or the task's panic (internal).
pub(super) struct Answered {
    pub proposal: ProposalId,
    pub generation: u64,
    pub answer: Answer,
}
impl Message for Answered {
    type Result = ();
}
