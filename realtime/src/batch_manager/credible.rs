//! The batch manager's side of the Credible Layer, on its block task: the block's txs judged
//! before they go to the driver, and what the sidecar's CommitHead says of the inserted block.

use alloy::{
    consensus::TxEnvelope,
    primitives::B256,
    providers::{DynProvider, Provider},
};
use common::driver::InsertedBlock;

use super::clients::Clients;
use crate::{
    block_build::{self, AssembledBlock, BlockFrame, ParentBlock},
    bridge::returns::Consumption,
    credible_layer::{
        self, CommittedBlock,
        ask::{BlockTxs, CredibleLayerAsk},
        encode::BlockHeaderEnv,
    },
};

/// The block's txs the node made: the last `appended` (processMessage), and every tx of
/// `signer` (their nonces follow its pool txs, so none of them may be left out).
pub(super) struct NodeTxs {
    /// processMessage txs at the end.
    pub(super) appended: usize,
    /// The node's L2 signer, when the block carries its txs.
    pub(super) signer: Option<alloy::primitives::Address>,
}

/// Has the Credible Layer judge the block's txs and leaves out what it drops; the iteration
/// the block was checked in. `Err`: tracked L2→L1→L2 txs whose answers the block's anchor
/// already carries were left out (the block must be planned again).
pub(super) async fn judge(
    ask: &CredibleLayerAsk,
    parent: &ParentBlock,
    frame: &BlockFrame,
    txs: &mut Vec<TxEnvelope>,
    node: NodeTxs,
    consumers: &[(B256, Consumption)],
) -> Result<Option<u64>, Vec<B256>> {
    let anchor = block_build::anchor_tx(frame);
    let env = BlockHeaderEnv::of(parent, frame);
    let block = BlockTxs {
        anchor: &anchor,
        txs,
        node_made: node.appended,
        node_signer: node.signer,
    };
    let reply = credible_layer::ask::check(ask, env, block).await;
    let judged = &reply.judgement;
    // Only a tx whose answers the anchor carries forces a new plan; one going in without
    // answers (given up, failing) is simply left out like any other.
    let tracked: Vec<B256> = consumers
        .iter()
        .filter(|(_, consumption)| matches!(consumption, Consumption::Answered(_)))
        .map(|(hash, _)| *hash)
        .filter(|hash| judged.dropped.contains(hash) || judged.deferred.contains(hash))
        .collect();
    if !tracked.is_empty() {
        return Err(tracked);
    }
    credible_layer::ask::apply(judged, txs);
    Ok(reply.iteration)
}

/// What the sidecar's CommitHead says of the inserted block: its real tx list (what the engine
/// kept), or what was sent (anchor, then the manifest's txs) when the block cannot be read.
pub(super) async fn committed(
    clients: &Clients,
    l2: &DynProvider,
    sent: &AssembledBlock,
    inserted: &InsertedBlock,
    iteration: Option<u64>,
) -> CommittedBlock {
    let read = clients
        .l2
        .call(l2.get_block_by_hash(inserted.hash))
        .await
        .ok()
        .flatten()
        .map(|block| block.transactions.hashes().collect::<Vec<B256>>());
    let hashes = read.unwrap_or_else(|| {
        std::iter::once(sent.anchor_tx_hash)
            .chain(sent.manifest.transactions.iter().map(|tx| *tx.tx_hash()))
            .collect()
    });
    CommittedBlock {
        number: inserted.number,
        hash: inserted.hash,
        timestamp: sent.request.executable_data.timestamp,
        tx_count: hashes.len() as u64,
        last_tx: hashes.last().copied(),
        iteration,
    }
}
