//! What the forced-inclusion e2e tests check on the chains: where a tx landed, which landed
//! proposals consumed inclusions, the inclusion blocks' shape, the landed chain's continuity,
//! what the node reports, and that no proposal met `UnprocessedForcedInclusionIsDue`.

use std::time::Duration;

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256},
    providers::Provider,
};
use common::anchor::GOLDEN_TOUCH_ADDRESS;

use super::{
    Network, forced,
    landed::{self, Landed},
    wait_until,
};

/// The node's default `FI_MAX_PER_PROPOSAL`.
pub const FI_MAX_PER_PROPOSAL: u16 = 4;

/// The L2 block holding `hash`, once it is in one.
pub async fn l2_block_of(net: &Network, hash: B256) -> Option<u64> {
    let receipt = net.l2.get_transaction_receipt(hash).await.unwrap()?;
    assert!(receipt.status(), "L2 tx {hash} failed");
    receipt.block_number
}

/// Forced-inclusion sources of the landed proposals, summed.
pub async fn landed_fi(net: &Network) -> usize {
    net.landed_logs()
        .await
        .iter()
        .map(|(_, e)| e.sources.iter().filter(|s| s.isForcedInclusion).count())
        .sum()
}

/// A landed proposal that consumed forced inclusions.
#[derive(Debug)]
pub struct Consumed {
    pub tx: B256,
    /// `numForcedInclusions` of its calldata (equal to its event's inclusion sources).
    pub num: u16,
    /// Its first inclusion's L2 block: the one after its `lastFinalizedBlockHash`.
    pub first_block: u64,
    /// Its position among the landed proposals.
    pub index: usize,
    /// `propose`, `tentativePropose`, or either through the Multicall.
    pub shape: &'static str,
}

/// The landed proposals that consumed inclusions, in L1 order; checks on the way that every
/// landed proposal is a proposer tx whose calldata asked for the inclusions its event lists,
/// and that these come first in `sources`.
pub async fn consumed(net: &Network) -> Vec<Consumed> {
    let seen = forced::proposals_since(net, 0).await;
    let mut out = Vec::new();
    for (index, (log, event)) in net.landed_logs().await.into_iter().enumerate() {
        let tx = log.transaction_hash.unwrap();
        let sent = seen
            .iter()
            .find(|s| s.hash == tx)
            .unwrap_or_else(|| panic!("landed proposal {tx} is not a proposer tx: {seen:?}"));
        let fi = event.sources.iter().filter(|s| s.isForcedInclusion).count();
        assert_eq!(
            usize::from(sent.num_forced_inclusions),
            fi,
            "{tx}: numForcedInclusions vs the event's sources"
        );
        assert!(
            event.sources[..fi].iter().all(|s| s.isForcedInclusion),
            "{tx}: inclusions come first in sources"
        );
        if fi == 0 {
            continue;
        }
        let parent = net
            .l2
            .get_block_by_hash(event.lastFinalizedBlockHash)
            .await
            .unwrap()
            .unwrap();
        out.push(Consumed {
            tx,
            num: sent.num_forced_inclusions,
            first_block: parent.header.number + 1,
            index,
            shape: sent.shape,
        });
    }
    out
}

/// Checks an inclusion's L2 block: fee recipient 0x0, its anchor, then exactly `txs`.
pub async fn assert_fi_block(net: &Network, number: u64, txs: &[B256]) {
    let block = net
        .l2
        .get_block_by_number(number.into())
        .full()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        block.header.beneficiary,
        Address::ZERO,
        "block {number}: an inclusion's block has coinbase 0x0"
    );
    let body: Vec<(B256, Address, Option<Address>)> = block
        .transactions
        .txns()
        .map(|tx| (*tx.inner.tx_hash(), tx.inner.signer(), tx.to()))
        .collect();
    assert!(
        body.first().is_some_and(
            |t| t.1 == GOLDEN_TOUCH_ADDRESS && t.2 == Some(net.devnet.contracts.anchor)
        ),
        "block {number} starts with its anchor: {body:?}"
    );
    let rest: Vec<B256> = body[1..].iter().map(|t| t.0).collect();
    assert_eq!(
        rest, txs,
        "block {number}: the inclusion's txs after the anchor"
    );
}

/// Asserts the landed chain is continuous from the inbox's genesis and ends on the L2's
/// canonical chain; returns it.
pub async fn assert_continuous(net: &Network) -> Vec<Landed> {
    let events = landed::assert_continuous(net).await;
    landed::assert_inbox_head_is_canonical(net, &events).await;
    events
}

/// The node counted what the inbox's head moved past, and its `/status` shows an empty queue.
pub async fn assert_node_saw(net: &Network, consumed: u64) {
    wait_until(
        "preconfer_forced_inclusions_consumed_total counts them",
        Duration::from_secs(15),
        || async {
            net.metric("preconfer_forced_inclusions_consumed_total", "")
                .await
                >= consumed as f64
        },
    )
    .await;
    wait_until(
        "/status shows an empty forced-inclusion queue",
        Duration::from_secs(15),
        || async { net.status().await["forced_inclusions"]["queued"].as_u64() == Some(0) },
    )
    .await;
}

/// What every test ends with, from the L1 receipts: no proposer tx reverted with
/// `UnprocessedForcedInclusionIsDue` (nor did one fail its estimate so, per the node's logs),
/// and none asked for more than `FI_MAX_PER_PROPOSAL`; the proposer txs.
pub async fn assert_none_due(net: &Network) -> Vec<forced::ProposeTxSeen> {
    let txs = forced::proposals_since(net, 0).await;
    assert!(!txs.is_empty(), "no proposal tx found on L1");
    let due: Vec<_> = txs.iter().filter(|t| t.due_revert).collect();
    assert!(
        due.is_empty(),
        "proposals reverted with UnprocessedForcedInclusionIsDue: {due:?}"
    );
    let logged: Vec<String> = net
        .logs
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.to_string())
        .filter(|l| l.to_ascii_lowercase().contains(forced::DUE_SELECTOR))
        .collect();
    assert!(
        logged.is_empty(),
        "the node met UnprocessedForcedInclusionIsDue: {logged:#?}"
    );
    let over: Vec<_> = txs
        .iter()
        .filter(|t| t.num_forced_inclusions > FI_MAX_PER_PROPOSAL)
        .collect();
    assert!(over.is_empty(), "more than {FI_MAX_PER_PROPOSAL}: {over:?}");
    txs
}
