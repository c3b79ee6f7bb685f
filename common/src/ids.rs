//! Identifiers that would otherwise be bare hashes and integers.

use alloy::primitives::B256;

/// A SignalService storage slot (`getSignalSlot(chainId, app, signal)`), as fast signals and
/// `signalSlots` carry it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SignalSlot(pub B256);

/// The node's own sequence number of a proposal (not an on-chain id: real-time proposals have
/// none). Increases by one per proposal the node opens.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ProposalId(pub u64);

impl std::fmt::Display for ProposalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A cross-chain user operation's id, as `surge_sendUserOp` answers it. Ids start at 1, rise
/// by one per accepted op, and are never reused (the next id is persisted with the op).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UserOpId(pub u64);

impl std::fmt::Display for UserOpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
