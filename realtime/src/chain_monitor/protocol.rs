//! Every message the ChainMonitor receives (`GetChainStatus` from anyone, the rest from its own
//! timers and tasks), and the four it sends to its subscribers.

use alloy::{eips::BlockNumHash, primitives::B256, providers::DynProvider, rpc::types::Log};
use common::{health::ChainStatus, rpc::RpcError, work::Outcome};
use spawned_concurrency::message::Message;

use super::Chain;
use crate::{forced_inclusion::ForcedQueue, landed_proposals::LandedProposal};

/// A new L1 head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Head(pub BlockNumHash);
impl Message for L1Head {
    type Result = ();
}

/// A proposal landed on L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalLanded(pub LandedProposal);
impl Message for ProposalLanded {
    type Result = ();
}

/// A proposal reported landed is gone: its L1 block was reorged out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalReorged(pub LandedProposal);
impl Message for ProposalReorged {
    type Result = ();
}

/// The inbox's forced-inclusion queue changed (read on every new L1 head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForcedInclusions(pub ForcedQueue);
impl Message for ForcedInclusions {
    type Result = ();
}

/// Asks for the latest published status.
pub struct GetChainStatus;
impl Message for GetChainStatus {
    type Result = ChainStatus;
}

/// Time to poll a chain.
#[derive(Clone, Copy)]
pub(super) struct Poll(pub Chain);
impl Message for Poll {
    type Result = ();
}

/// A poll's outcome, delivered back to the actor.
pub(super) struct Polled {
    pub(super) chain: Chain,
    pub(super) outcome: Result<Observation, RpcError>,
}
impl Message for Polled {
    type Result = ();
}

pub(super) struct Observation {
    pub(super) provider: DynProvider,
    /// The chain head.
    pub(super) head: BlockNumHash,
    /// L1 only: the inbox's finalized L2 head.
    pub(super) finalized: Option<Result<B256, RpcError>>,
    /// L1 only: all inbox logs of blocks `from..=to`.
    pub(super) logs: Option<(u64, u64, Vec<LandedProposal>)>,
    /// L1 only: the forced-inclusion queue.
    pub(super) forced: Option<Result<ForcedQueue, RpcError>>,
}

/// A log from the subscription.
pub(super) struct Streamed(pub Log);
impl Message for Streamed {
    type Result = ();
}

/// The subscription ended (it is re-opened on the next successful poll).
pub(super) struct SubscriptionEnded(pub Outcome<SubscriptionEnd>);

/// Why the log subscription ended.
#[derive(Debug, thiserror::Error)]
pub(super) enum SubscriptionEnd {
    /// The L1 node closed it.
    #[error("the L1 node closed it")]
    Closed,
    /// The L1 node refused it.
    #[error("the L1 node refused it: {0}")]
    Refused(alloy::transports::TransportError),
    /// The monitor is gone.
    #[error("the monitor stopped")]
    MonitorStopped,
}
impl Message for SubscriptionEnded {
    type Result = ();
}
