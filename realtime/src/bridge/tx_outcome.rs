//! How the L2→L1→L2 txs the node follows really ended on L2, from their receipts: a tx that
//! reverted is Rejected with a reason that says why the node let it in, never Executed.

use std::collections::HashSet;

use alloy::{
    primitives::B256,
    providers::{DynProvider, Provider},
};
use common::rpc::{RpcEndpoint, RpcError};

use super::{
    returns::Consumption,
    status::{StatusError, StatusKey, StatusStore, UserOpStatus},
};
use crate::proposal_store::ProposalRecord;

/// Which of `hashes` reverted on L2 (a tx without a receipt is not counted).
pub async fn reverted(
    l2: &RpcEndpoint,
    provider: &DynProvider,
    hashes: impl IntoIterator<Item = B256>,
) -> Result<HashSet<B256>, RpcError> {
    let mut out = HashSet::new();
    for hash in hashes {
        if let Some(receipt) = l2.call(provider.get_transaction_receipt(hash)).await?
            && !receipt.status()
        {
            out.insert(hash);
        }
    }
    Ok(out)
}

/// Why a tracked tx that reverted on L2 is Rejected, given how its block took it.
pub fn rejection(consumption: &Consumption, held_secs: u64) -> UserOpStatus {
    let reason = match consumption {
        Consumption::Answered(_) => {
            "reverted on L2 although the L1 answers it consumes were fast signals of its block"
                .to_string()
        }
        Consumption::GivenUp => format!(
            "reverted on L2: the L1 answer it consumes was not sent; it was held back {held_secs} s waiting for L1 to send it, then included without it"
        ),
        Consumption::Failing(why) => format!("reverted on L2: {why}"),
    };
    UserOpStatus::Rejected { reason }
}

/// The note a tracked tx that ran carries, if how it got in is worth telling.
pub fn note(consumption: &Consumption, held_secs: u64) -> Option<String> {
    matches!(consumption, Consumption::GivenUp).then(|| {
        format!(
            "held back {held_secs} s: L1 would not send the answer it consumes; included without it"
        )
    })
}

/// The final status of a tracked tx whose proposal landed.
pub fn landed(hash: B256, reverted: &HashSet<B256>) -> UserOpStatus {
    if reverted.contains(&hash) {
        UserOpStatus::Rejected {
            reason: "reverted on L2 (receipt status 0); its block is on L1, the tx had no effect"
                .into(),
        }
    } else {
        UserOpStatus::Executed
    }
}

/// Records the final statuses of a landed proposal: its user ops Executed, each tracked tx
/// Executed or, if it reverted on L2, Rejected. Returns once that is on disk.
pub async fn settle_landed(
    statuses: &StatusStore,
    l2: (&RpcEndpoint, &DynProvider),
    record: &ProposalRecord,
) -> Result<(), SettleError> {
    let ops: Vec<StatusKey> = record.user_ops.iter().map(|op| op.id.into()).collect();
    statuses.set(&ops, UserOpStatus::Executed).await?;
    let tracked: Vec<B256> = record.returns.tracked().copied().collect();
    if tracked.is_empty() {
        return Ok(());
    }
    let reverted = reverted(l2.0, l2.1, tracked.iter().copied())
        .await
        .map_err(SettleError::Receipts)?;
    for hash in tracked {
        statuses
            .set(&[StatusKey::Tx(hash)], landed(hash, &reverted))
            .await?;
    }
    Ok(())
}

/// The final statuses of a landed proposal could not be recorded yet.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// The L2 did not answer.
    #[error("reading the receipts of its L2→L1→L2 txs: {0}")]
    Receipts(RpcError),
    /// The status store failed.
    #[error(transparent)]
    Statuses(#[from] StatusError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reverted_tx_is_never_executed_and_the_reason_says_how_it_got_in() {
        let hash = B256::repeat_byte(1);
        let reverted: HashSet<B256> = [hash].into();
        assert!(matches!(
            landed(hash, &reverted),
            UserOpStatus::Rejected { .. }
        ));
        assert_eq!(landed(B256::ZERO, &reverted), UserOpStatus::Executed);
        let UserOpStatus::Rejected { reason } = rejection(&Consumption::GivenUp, 30) else {
            panic!("rejected expected");
        };
        assert!(reason.contains("held back 30 s"), "{reason}");
        let UserOpStatus::Rejected { reason } = rejection(
            &Consumption::Failing("it reverts (NOT_FROM_PEER)".into()),
            30,
        ) else {
            panic!("rejected expected");
        };
        assert!(reason.contains("NOT_FROM_PEER"), "{reason}");
        assert!(note(&Consumption::GivenUp, 3).is_some());
        assert!(note(&Consumption::Answered(vec![]), 3).is_none());
    }
}
