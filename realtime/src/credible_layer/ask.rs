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
    /// The node's own signer: its txs anywhere in the block are node-made too.
    pub node_signer: Option<Address>,
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
    for (tx, appended) in all {
        // The pool hands out only txs whose sender it recovered; one that still cannot be
        // recovered is sent (the sidecar judges it) under the zero address.
        let sender = tx.recover_signer().unwrap_or(Address::ZERO);
        candidates.push(Candidate {
            hash: *tx.tx_hash(),
            sender,
            node_made: appended || block.node_signer == Some(sender),
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

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559},
        network::TxSignerSync,
        signers::local::PrivateKeySigner,
    };

    use super::*;

    fn signed(signer: &PrivateKeySigner, nonce: u64) -> TxEnvelope {
        let mut tx = TxEip1559 {
            chain_id: 1,
            nonce,
            ..Default::default()
        };
        let signature = signer
            .sign_transaction_sync(&mut tx)
            .unwrap_or_else(|e| panic!("{e}"));
        TxEnvelope::Eip1559(tx.into_signed(signature))
    }

    #[test]
    fn the_anchor_the_appended_txs_and_the_node_signers_txs_are_node_made() {
        let node =
            PrivateKeySigner::from_bytes(&B256::repeat_byte(1)).unwrap_or_else(|e| panic!("{e}"));
        let user =
            PrivateKeySigner::from_bytes(&B256::repeat_byte(2)).unwrap_or_else(|e| panic!("{e}"));
        let anchor = signed(&user, 0);
        let txs = vec![
            signed(&user, 1),
            signed(&node, 0),
            signed(&user, 2),
            signed(&node, 1),
        ];
        let (candidates, envs) = prepare(&BlockTxs {
            anchor: &anchor,
            txs: &txs,
            node_made: 1,
            node_signer: Some(node.address()),
        });
        let made: Vec<bool> = candidates.iter().map(|c| c.node_made).collect();
        assert_eq!(made, vec![true, false, true, false, true]);
        assert_eq!(candidates[1].sender, user.address());
        assert_eq!(envs[2].caller, node.address().to_vec());
        assert_eq!(candidates[4].hash, *txs[3].tx_hash());
    }

    #[test]
    fn what_is_dropped_or_deferred_leaves_the_block() {
        let user =
            PrivateKeySigner::from_bytes(&B256::repeat_byte(2)).unwrap_or_else(|e| panic!("{e}"));
        let mut txs = vec![signed(&user, 0), signed(&user, 1), signed(&user, 2)];
        let judgement = Judgement {
            dropped: vec![*txs[1].tx_hash()],
            deferred: vec![*txs[2].tx_hash()],
            fail_open: None,
        };
        let first = *txs[0].tx_hash();
        apply(&judgement, &mut txs);
        assert_eq!(
            txs.iter().map(|t| *t.tx_hash()).collect::<Vec<_>>(),
            vec![first]
        );
    }
}
