//! Every message the BatchManager receives. The ones other actors send (`RewindL2`,
//! `ProposalSettled`; `L1Head` and `ForcedInclusions` from the chain monitor) import nothing of
//! the actor, so senders depend only on this module.

use common::{
    driver::{DriverError, ReorgOutcome},
    ids::ProposalId,
    work::Outcome,
};
use spawned_concurrency::message::Message;

pub use crate::chain_monitor::{ForcedInclusions, L1Head};

/// Roll the L2 back to block `to` (the batch manager owns the L2 head: nobody else calls the
/// driver's `reorgStaleBlock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewindL2 {
    /// The block that becomes the head.
    pub to: u64,
    /// Why, for the log.
    pub cause: RewindCause,
}
impl Message for RewindL2 {
    type Result = ();
}

/// Why the L2 is rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewindCause {
    /// The submitter resynced with the inbox after a failure or an L1 reorg.
    Resync,
    /// A sealed proposal did not continue the last one: blocks nobody proposes follow the tip.
    Gap,
}

impl RewindCause {
    /// Its name in logs.
    pub fn label(self) -> &'static str {
        match self {
            RewindCause::Resync => "resync",
            RewindCause::Gap => "gap",
        }
    }
}

/// A sealed proposal left the submitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalSettled {
    /// The proposal.
    pub id: ProposalId,
    /// How.
    pub how: Settled,
}
impl Message for ProposalSettled {
    type Result = ();
}

/// How a proposal left the submitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// It landed and its statuses are final (it left the proposal store).
    Landed,
    /// It will not land; neither will any later one still unlanded.
    Abandoned,
    /// It left the store at the submitter's recovery (landed before, or no longer continuing
    /// the inbox); says nothing about other proposals.
    Dropped,
}

/// One heartbeat.
#[derive(Clone)]
pub struct Tick;
impl Message for Tick {
    type Result = ();
}

/// Read the start-up facts (internal).
#[derive(Clone)]
pub(super) struct Start;
impl Message for Start {
    type Result = ();
}

/// The start-up facts were read (internal).
pub(super) struct Started(pub Outcome<Result<super::start::StartFacts, super::io::TickError>>);
impl Message for Started {
    type Result = ();
}

/// A tick's observation of the chains (internal).
pub(super) struct Observed(pub Outcome<Result<super::io::Observation, super::io::TickError>>);
impl Message for Observed {
    type Result = ();
}

/// A block was built and sent to the driver, or not (internal).
pub(super) struct Built {
    pub parent: crate::block_build::ParentBlock,
    pub outcome: Outcome<Result<super::io::BuiltBlock, super::io::BuildFailure>>,
}
impl Message for Built {
    type Result = ();
}

/// The L2 was rolled back, or not (internal).
pub(super) struct Reorged {
    pub to: u64,
    /// Set when another actor asked for it.
    pub cause: Option<RewindCause>,
    pub outcome: Outcome<Result<ReorgOutcome, DriverError>>,
}
impl Message for Reorged {
    type Result = ();
}
