//! The landed chain as the inbox's `ProposedAndProved` events tell it, and the checks every
//! proposing e2e test makes on it.

use alloy::primitives::B256;

use super::Network;

/// One landed proposal: (lastFinalizedBlockHash, checkpoint number, checkpoint hash, tx hash).
pub type Landed = (B256, u64, B256, B256);

/// The inbox's `ProposedAndProved` events so far, in chain order.
pub async fn landed(net: &Network) -> Vec<Landed> {
    net.landed_logs()
        .await
        .into_iter()
        .map(|(log, e)| {
            (
                e.lastFinalizedBlockHash,
                e.checkpoint.blockNumber.to::<u64>(),
                e.checkpoint.blockHash,
                log.transaction_hash.unwrap(),
            )
        })
        .collect()
}

/// Asserts the landed chain starts at the inbox's genesis and every proposal builds on the
/// previous one's checkpoint; returns it.
pub async fn assert_continuous(net: &Network) -> Vec<Landed> {
    let events = landed(net).await;
    let mut parent = net.devnet.contracts.l2_genesis_hash;
    let mut number = 0;
    for (i, (last_finalized, cp_number, cp_hash, _)) in events.iter().enumerate() {
        assert_eq!(
            *last_finalized, parent,
            "proposal {i} does not continue the previous one: {events:?}"
        );
        assert!(*cp_number > number, "checkpoints go up: {events:?}");
        parent = *cp_hash;
        number = *cp_number;
    }
    events
}

/// The last landed checkpoint is a block of the L2's canonical chain.
pub async fn assert_inbox_head_is_canonical(net: &Network, events: &[Landed]) {
    let (_, number, hash, _) = *events.last().unwrap();
    assert_eq!(
        net.l2_hash_at(number).await,
        Some(hash),
        "the inbox's head is the L2's canonical chain"
    );
}
