//! The batch manager's side of a block's check, run on its block task: the candidates in block
//! order (anchor first, the node's processMessage txs last), the question to the client, and
//! what the block keeps. The node-made txs are sent too, so the sidecar's fork equals the block,
//! but their verdicts do not count.

use std::collections::HashSet;

use alloy::{
    consensus::{TxEnvelope, transaction::SignerRecoverable},
    primitives::{Address, B256},
};
use common::{credible_layer::wire::TransactionEnv, supervisor::Handle};
use tokio::sync::oneshot;

use super::{
    CredibleLayerClient,
    check::{Candidate, FailOpen, Judgement},
    encode::{self, BlockHeaderEnv},
    protocol::{CheckBlock, CheckReply},
};

/// Time the block task waits beyond the client's own budget before it goes ahead alone.
const REPLY_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// How the batch manager reaches the client.
#[derive(Clone)]
pub struct CredibleLayerAsk {
    /// The client.
    pub client: Handle<CredibleLayerClient>,
    /// The per-block budget (CREDIBLE_LAYER_BLOCK_BUDGET_MS).
    pub budget: std::time::Duration,
}

impl CredibleLayerAsk {
    /// Tells the client the driver inserted a block (its CommitHead).
    pub fn committed(&self, block: super::CommittedBlock) {
        match self.client.current() {
            Ok(actor) => {
                let _ = actor.send(super::BlockCommitted(block));
            }
            Err(e) => {
                tracing::debug!(error = %e, "Credible Layer client not running; CommitHead skipped")
            }
        }
    }
}

/// The block's txs: `anchor`, then `txs`, the last `node_made` of which the node made.
pub struct BlockTxs<'a> {
    /// The anchor tx.
    pub anchor: &'a TxEnvelope,
    /// The rest, in block order.
    pub txs: &'a [TxEnvelope],
    /// How many of `txs`, at the end, are the node's own.
    pub node_made: usize,
}

/// Asks the client to judge the block; never fails (an unavailable client is fail-open).
pub async fn check(ask: &CredibleLayerAsk, env: BlockHeaderEnv, block: BlockTxs<'_>) -> CheckReply {
    let (client, budget) = (&ask.client, ask.budget);
    let open = |why| CheckReply {
        judgement: Judgement {
            fail_open: Some(why),
            ..Judgement::default()
        },
        iteration: None,
    };
    let Ok(actor) = client.current() else {
        return open(FailOpen::Unavailable);
    };
    let (candidates, tx_envs) = prepare(&block);
    let (reply, answer) = oneshot::channel();
    let asked = actor.send(CheckBlock {
        env,
        candidates,
        tx_envs,
        reply,
    });
    if asked.is_err() {
        return open(FailOpen::Unavailable);
    }
    match tokio::time::timeout(budget + REPLY_GRACE, answer).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) | Err(_) => open(FailOpen::Unavailable),
    }
}

/// The candidates and their wire form, in block order (the node-side CPU work of a check).
pub fn prepare(block: &BlockTxs<'_>) -> (Vec<Candidate>, Vec<TransactionEnv>) {
    let first_node_made = block.txs.len().saturating_sub(block.node_made);
    let all = std::iter::once((block.anchor, true)).chain(
        block
            .txs
            .iter()
            .enumerate()
            .map(|(i, tx)| (tx, i >= first_node_made)),
    );
    let mut candidates = Vec::with_capacity(block.txs.len() + 1);
    let mut tx_envs = Vec::with_capacity(block.txs.len() + 1);
    for (tx, node_made) in all {
        // The pool hands out only txs whose sender it recovered; one that still cannot be
        // recovered is sent (the sidecar judges it) under the zero address.
        let sender = tx.recover_signer().unwrap_or(Address::ZERO);
        candidates.push(Candidate {
            hash: *tx.tx_hash(),
            sender,
            node_made,
        });
        tx_envs.push(encode::tx_env(tx, sender));
    }
    (candidates, tx_envs)
}

/// Leaves out of `txs` what the judgement drops or defers.
pub fn apply(judgement: &Judgement, txs: &mut Vec<TxEnvelope>) {
    let out: HashSet<B256> = judgement
        .dropped
        .iter()
        .chain(&judgement.deferred)
        .copied()
        .collect();
    if !out.is_empty() {
        txs.retain(|tx| !out.contains(tx.tx_hash()));
    }
}
