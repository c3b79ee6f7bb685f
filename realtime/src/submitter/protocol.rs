//! Every message the AsyncSubmitter receives. `Submit` is what the batch manager sends, so it
//! depends only on this module; the rest are the outcomes of the submitter's own tasks.

use std::time::Duration;

use alloy::eips::BlockNumHash;
use common::{
    ids::ProposalId,
    tx_manager::{Included, TxError, TxManager},
    work::Outcome,
};
use spawned_concurrency::message::Message;
use tokio::time::Instant;

pub use crate::chain_monitor::ProposalReorged;
use crate::{proposal_store::ProposalRecord, prover::wire::ProofError};

/// A sealed proposal to prove and propose (already in the proposal store).
pub struct Submit(pub ProposalRecord);
impl Message for Submit {
    type Result = ();
}

/// Recover from the journal and the store (internal).
#[derive(Clone)]
pub(super) struct Start;
impl Message for Start {
    type Result = ();
}

/// Recovery ended (internal).
pub(super) struct Started(
    pub Outcome<Result<super::recovery::Recovered, super::recovery::RecoveryError>>,
);
impl Message for Started {
    type Result = ();
}

/// A proposal's proof and L1 calls are ready, or failed (internal).
pub(super) struct ProofDone {
    pub id: ProposalId,
    pub attempt: u32,
    pub outcome: Result<super::Proved, ProofFailure>,
    pub took: Duration,
}
impl Message for ProofDone {
    type Result = ();
}

/// A proposal's tx landed or failed (internal).
pub(super) struct SendDone {
    pub id: ProposalId,
    /// The lent tx manager comes back with the tx's outcome (not after a panic: then the
    /// actor fails and its successor starts from the journal).
    pub outcome: Outcome<(TxManager, Result<Included, TxError>)>,
    pub sealed_at: Instant,
}
impl Message for SendDone {
    type Result = ();
}

/// Whether the L2 holds blocks after a dropped proposal that nobody proposes (internal).
pub(super) struct GapChecked {
    pub reorg_to: Outcome<Option<u64>>,
}
impl Message for GapChecked {
    type Result = ();
}

/// Start proofs and sends that may go now (internal, also after a pause).
#[derive(Clone)]
pub(super) struct Pump;
impl Message for Pump {
    type Result = ();
}

/// The inbox head re-read for a resync (internal).
pub(super) struct Resynced(pub Outcome<Result<BlockNumHash, ResyncError>>);

/// The inbox head could not be re-read for a resync.
#[derive(Debug, thiserror::Error)]
pub(super) enum ResyncError {
    /// An endpoint could not be reached.
    #[error(transparent)]
    Connect(common::rpc::RpcError),
    /// What landed could not be read back.
    #[error(transparent)]
    ReadBack(#[from] crate::restart::ReadBackError),
}
impl Message for Resynced {
    type Result = ();
}

/// A landed proposal's final statuses are on disk and it left the store (internal).
pub(super) struct Forgotten {
    pub id: ProposalId,
    pub outcome: Outcome<()>,
}
impl Message for Forgotten {
    type Result = ();
}

/// Why proving a proposal failed (carried by `ProofDone`).
#[derive(Debug, thiserror::Error)]
pub(super) enum ProofFailure {
    #[error(transparent)]
    Raiko(#[from] ProofError),
    #[error("the prover is not running ({0})")]
    ProverGone(String),
    #[error("blob payload: {0}")]
    Payload(String),
    #[error("L1 calls of L2→L1 messages: {0}")]
    L1Calls(String),
    /// The L2 did not answer what proving needs: nothing is wrong with the proposal.
    #[error("the L2 did not answer ({0}); proving is tried again")]
    L2Unavailable(String),
    /// The proving task itself panicked (a bug): counted like a failed proof.
    #[error(transparent)]
    Lost(#[from] common::work::TaskPanicked),
}

impl ProofFailure {
    /// Whether the failure counts against `PROOF_MAX_ATTEMPTS` (an L2 that did not answer
    /// says nothing about the proposal: it is only tried again, after a pause).
    pub(super) fn counts(&self) -> bool {
        !matches!(self, ProofFailure::L2Unavailable(_))
    }

    pub(super) fn label(&self) -> &'static str {
        match self {
            ProofFailure::Raiko(e) => e.label(),
            ProofFailure::ProverGone(_) => "prover_gone",
            ProofFailure::Payload(_) => "payload",
            ProofFailure::L1Calls(_) => "l1_calls",
            ProofFailure::L2Unavailable(_) => "l2_unavailable",
            ProofFailure::Lost(_) => "task_panicked",
        }
    }
}
