//! alloy `sol!` bindings of the Surge real-time protocol contracts the node talks to.

/// The L1 RealTimeInbox: proposals, proofs and the finalized L2 head.
pub mod inbox {
    alloy::sol! {
        /// Read side of the RealTimeInbox used by the chain monitor.
        #[sol(rpc)]
        interface IRealTimeInbox {
            /// Hash of the last L2 block finalized on L1 (zero before activation).
            function getLastFinalizedBlockHash() external view returns (bytes32);
        }
    }
}
