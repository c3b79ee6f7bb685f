//! Why a fact the node reads once from the chains (the inbox config, the L2 chain id) could not
//! be read: shared by the actors that read them at start (leaf module).

use common::rpc::RpcError;

/// A start-up read of the chains failed (the reader tries again after a pause).
#[derive(Debug, thiserror::Error)]
pub enum ChainReadError {
    /// An endpoint could not be reached.
    #[error(transparent)]
    Connect(RpcError),
    /// The inbox's config could not be read.
    #[error("reading the inbox config: {0}")]
    InboxConfig(RpcError),
    /// The L2's chain id could not be read.
    #[error("reading the L2 chain id: {0}")]
    L2ChainId(RpcError),
}
