//! Why a plan could not be made (leaf module: what is ahead on L1 is read with the same error).

use common::rpc::RpcError;

use crate::bridge::outbound::TraceError;

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A chain did not answer.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// A trace failed.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The proposal store could not be read.
    #[error("proposal store: {0}")]
    Store(String),
    /// A block or value that must exist does not.
    #[error("{0}")]
    Missing(String),
}
