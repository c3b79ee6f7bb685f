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
