//! End to end with forced inclusions (issue 22): a stranger queues L2 txs in the devnet's L1
//! inbox as any outside client would (`support::forced`, the protocol's encoding, not the
//! node's codec), and the real `preconfer` preconfirms, proves and consumes them before they
//! fall due, at most `FI_MAX_PER_PROPOSAL` (4) per proposal. Every test ends by checking the L1
//! receipts: no proposal reverted with `UnprocessedForcedInclusionIsDue`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    eips::eip4844::Blob,
    primitives::{Address, B256},
    providers::Provider,
};
use common::anchor::GOLDEN_TOUCH_ADDRESS;
use devnet::accounts::{self, TEST_KEYS};
use support::{Network, forced, keep_sending, sender, wait_until};

/// The e2e tests here measure timing: one devnet at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The stranger who pays for the inclusions: a funded test key nothing else here uses (the
/// background traffic is `sender(0)`, the later transfers `sender(1)`).
const STRANGER: &str = TEST_KEYS[4];
/// Where the stranger's transfers go.
const RECIPIENT: Address = Address::repeat_byte(0xf1);
/// The node's default `FI_MAX_PER_PROPOSAL`.
const FI_MAX_PER_PROPOSAL: u16 = 4;

fn propose_env() -> Vec<(&'static str, String)> {
    vec![
        ("PRECONF_ONLY", "false".into()),
        ("PRECONF_MIN_TXS", "1".into()),
    ]
}

/// Time left until `deadline`.
fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Starts a proposing node with background traffic (a proposal needs a block of its own) and
/// waits for its first landed proposal.
async fn start() -> (Network, tokio::sync::oneshot::Sender<()>) {
    let net = support::start(&propose_env()).await;
    let traffic = keep_sending(&net, sender(0), Duration::from_millis(500));
    wait_until(
        "a first proposal lands",
        Duration::from_secs(90),
        || async { net.landed_total().await >= 1.0 },
    )
    .await;
    (net, traffic)
}

/// Cross-checks the test's encoder against the node's decoders (decoding only): the blob
/// unpacks to the payload, and the payload is one block holding exactly `txs`.
fn assert_encoding(payload: &[u8], blob: &Blob, txs: &[TxEnvelope]) {
    let unpacked = common::codec::blob::decode(std::slice::from_ref(blob)).unwrap();
    assert_eq!(unpacked, payload, "the blob unpacks to the payload");
    let manifest =
        common::codec::manifest::DerivationSourceManifest::from_plaintext_payload(payload).unwrap();
    assert_eq!(manifest.blocks.len(), 1, "one block per forced inclusion");
    assert_eq!(manifest.blocks[0].transactions, txs);
}

/// The L2 block holding `hash`, once it is in one.
async fn l2_block_of(net: &Network, hash: B256) -> Option<u64> {
    let receipt = net.l2.get_transaction_receipt(hash).await.unwrap()?;
    assert!(receipt.status(), "L2 tx {hash} failed");
    receipt.block_number
}

/// Forced-inclusion sources of the landed proposals, summed.
async fn landed_fi(net: &Network) -> usize {
    net.landed_logs()
        .await
        .iter()
        .map(|(_, e)| e.sources.iter().filter(|s| s.isForcedInclusion).count())
        .sum()
}

/// A landed proposal that consumed forced inclusions.
#[derive(Debug)]
struct Consumed {
    tx: B256,
    /// `numForcedInclusions` of its calldata (equal to its event's inclusion sources).
    num: u16,
    /// Its first inclusion's L2 block: the one after its `lastFinalizedBlockHash`.
    first_block: u64,
    /// Its position among the landed proposals.
    index: usize,
    /// `propose`, `tentativePropose`, or either through the Multicall.
    shape: &'static str,
}

/// The landed proposals that consumed inclusions, in L1 order; checks on the way that every
/// landed proposal is a proposer tx whose calldata asked for the inclusions its event lists,
/// and that these come first in `sources`.
async fn consumed(net: &Network) -> Vec<Consumed> {
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
async fn assert_fi_block(net: &Network, number: u64, txs: &[B256]) {
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

/// The inbox's `ProposedAndProved` events so far, in chain order:
/// (lastFinalizedBlockHash, checkpoint number, checkpoint hash, tx hash).
async fn landed(net: &Network) -> Vec<(B256, u64, B256, B256)> {
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
/// previous one's checkpoint, and that the last checkpoint is canonical on L2; returns it.
async fn assert_continuous(net: &Network) -> Vec<(B256, u64, B256, B256)> {
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
    let (_, number, hash, _) = *events.last().unwrap();
    let block = net
        .l2
        .get_block_by_number(number.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        block.header.hash, hash,
        "the inbox's head is the L2's canonical chain"
    );
    events
}

/// The node counted what the inbox's head moved past, and its `/status` shows an empty queue.
async fn assert_node_saw(net: &Network, consumed: u64) {
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
async fn assert_none_due(net: &Network) -> Vec<forced::ProposeTxSeen> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_strangers_forced_inclusion_is_preconfirmed_proved_and_consumed_within_a_minute() {
    let _serial = SERIAL.lock().await;
    let (net, traffic) = start().await;
    let chain_id = net.l2.get_chain_id().await.unwrap();
    let nonce = net
        .l2
        .get_transaction_count(accounts::address(STRANGER))
        .await
        .unwrap();
    let txs = [0, 1].map(|i| forced::l2_transfer(STRANGER, chain_id, nonce + i, RECIPIENT));
    let hashes: Vec<B256> = txs.iter().map(|t| *t.tx_hash()).collect();
    let payload = forced::fi_payload(&txs);
    let blob = forced::blob_of(&payload);
    assert_encoding(&payload, &blob, &txs);

    let sent = Instant::now();
    let receipt = forced::save_forced_inclusion(&net, STRANGER, blob).await;
    let saved = Instant::now();
    let deadline = saved + Duration::from_secs(60);
    wait_until("both transfers on L2", left(deadline), || async {
        for hash in &hashes {
            if l2_block_of(&net, *hash).await.is_none() {
                return false;
            }
        }
        true
    })
    .await;
    let on_l2 = Instant::now();
    wait_until(
        "the inclusion consumed by a landed proposal",
        left(deadline),
        || async { forced::queue(&net).await.0 >= 1 && landed_fi(&net).await >= 1 },
    )
    .await;
    let landed_at = Instant::now();

    let consumed = consumed(&net).await;
    assert_eq!(consumed.len(), 1, "one proposal consumed it: {consumed:?}");
    assert_eq!(consumed[0].num, 1, "{consumed:?}");
    assert_eq!(
        forced::queue(&net).await,
        (1, 1),
        "the inbox's head moved to 1"
    );
    let fi_block = consumed[0].first_block;
    for hash in &hashes {
        assert_eq!(
            l2_block_of(&net, *hash).await,
            Some(fi_block),
            "the transfers are in the inclusion's block, first of its proposal"
        );
    }
    assert_fi_block(&net, fi_block, &hashes).await;
    let stats = net.raiko("devnet/stats", None).await;
    assert!(stats["forced_derived"].as_u64() >= Some(1), "{stats}");
    let events = assert_continuous(&net).await;
    assert_node_saw(&net, 1).await;
    drop(traffic);
    let proposals = assert_none_due(&net).await;
    println!(
        "RESULT fi_stranger save_tx_ms={} save_to_l2_ms={} save_to_landed_ms={} fi_block={fi_block} shape={} proposal_tx={} l1_block={} landed={} proposer_txs={} raiko_refused={}",
        saved.duration_since(sent).as_millis(),
        on_l2.duration_since(saved).as_millis(),
        landed_at.duration_since(saved).as_millis(),
        consumed[0].shape,
        consumed[0].tx,
        receipt.block_number.unwrap_or_default(),
        events.len(),
        proposals.len(),
        stats["refused"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_garbage_forced_inclusion_becomes_an_empty_block_and_the_node_goes_on() {
    let _serial = SERIAL.lock().await;
    let (net, traffic) = start().await;
    let blob = forced::garbage_blob(22);
    let frame_version = B256::with_last_byte(1);
    let framed = common::codec::blob::decode(std::slice::from_ref(&blob))
        .is_ok_and(|p| p.starts_with(frame_version.as_slice()));
    assert!(!framed, "the garbage is not a framed payload");

    let sent = Instant::now();
    forced::save_forced_inclusion(&net, STRANGER, blob).await;
    let saved = Instant::now();
    wait_until(
        "the garbage inclusion consumed by a landed proposal",
        Duration::from_secs(60),
        || async { forced::queue(&net).await.0 >= 1 && landed_fi(&net).await >= 1 },
    )
    .await;
    let landed_at = Instant::now();
    let consumed = consumed(&net).await;
    assert_eq!(consumed.len(), 1, "one proposal consumed it: {consumed:?}");
    assert_eq!(consumed[0].num, 1, "{consumed:?}");
    assert_eq!(forced::queue(&net).await, (1, 1));
    let fi_block = consumed[0].first_block;
    assert_fi_block(&net, fi_block, &[]).await;
    let stats = net.raiko("devnet/stats", None).await;
    assert!(stats["forced_empty"].as_u64() >= Some(1), "{stats}");

    // Afterwards: another key's transfer is preconfirmed, and proposals keep landing.
    let other = sender(1);
    let nonce = net
        .l2
        .get_transaction_count(accounts::address(other))
        .await
        .unwrap();
    let (hash, at) = net.send_transfer(other, nonce).await;
    wait_until(
        "a later transfer preconfirmed",
        Duration::from_secs(30),
        || async { l2_block_of(&net, hash).await.is_some() },
    )
    .await;
    let preconfirmed = at.elapsed();
    let later_block = l2_block_of(&net, hash).await.unwrap();
    assert!(later_block > fi_block, "{later_block} after {fi_block}");
    let fi_index = consumed[0].index;
    wait_until(
        "two more proposals land after the inclusion's, the later transfer's among them",
        Duration::from_secs(60),
        || async {
            let events = landed(&net).await;
            events.len() > fi_index + 2 && events.last().is_some_and(|e| e.1 >= later_block)
        },
    )
    .await;
    let events = assert_continuous(&net).await;
    assert_node_saw(&net, 1).await;
    drop(traffic);
    let proposals = assert_none_due(&net).await;
    println!(
        "RESULT fi_garbage save_tx_ms={} save_to_landed_ms={} fi_block={fi_block} later_transfer_ms={} landed_after={} proposer_txs={} raiko_forced_empty={}",
        saved.duration_since(sent).as_millis(),
        landed_at.duration_since(saved).as_millis(),
        preconfirmed.as_millis(),
        events.len() - fi_index - 1,
        proposals.len(),
        stats["forced_empty"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_forced_inclusions_queued_at_once_are_consumed_at_most_four_per_proposal() {
    let _serial = SERIAL.lock().await;
    let (net, traffic) = start().await;
    let chain_id = net.l2.get_chain_id().await.unwrap();
    let nonce = net
        .l2
        .get_transaction_count(accounts::address(STRANGER))
        .await
        .unwrap();
    let txs: Vec<TxEnvelope> = (0..5)
        .map(|i| forced::l2_transfer(STRANGER, chain_id, nonce + i, RECIPIENT))
        .collect();
    let hashes: Vec<B256> = txs.iter().map(|t| *t.tx_hash()).collect();
    let blobs: Vec<Blob> = txs
        .iter()
        .map(|tx| {
            let payload = forced::fi_payload(std::slice::from_ref(tx));
            let blob = forced::blob_of(&payload);
            assert_encoding(&payload, &blob, std::slice::from_ref(tx));
            blob
        })
        .collect();

    let sent = Instant::now();
    let receipts = forced::save_forced_inclusions(&net, STRANGER, blobs).await;
    let saved = Instant::now();
    let l1_blocks: Vec<u64> = receipts.iter().filter_map(|r| r.block_number).collect();
    let deadline = saved + Duration::from_secs(90);
    wait_until("all five transfers on L2", left(deadline), || async {
        for hash in &hashes {
            if l2_block_of(&net, *hash).await.is_none() {
                return false;
            }
        }
        true
    })
    .await;
    let on_l2 = Instant::now();
    wait_until(
        "all five consumed by landed proposals",
        left(deadline),
        || async { forced::queue(&net).await.0 >= 5 && landed_fi(&net).await >= 5 },
    )
    .await;
    let landed_at = Instant::now();

    assert_eq!(
        forced::queue(&net).await,
        (5, 5),
        "the inbox's head moved to 5"
    );
    let consumed = consumed(&net).await;
    let split: Vec<u16> = consumed.iter().map(|c| c.num).collect();
    assert!(
        split.iter().all(|n| *n <= FI_MAX_PER_PROPOSAL),
        "at most {FI_MAX_PER_PROPOSAL} per proposal: {consumed:?}"
    );
    assert_eq!(split.iter().sum::<u16>(), 5, "{consumed:?}");
    // Inclusion i (transfer i) is the i-th inclusion block, in queue order.
    let fi_blocks: Vec<u64> = consumed
        .iter()
        .flat_map(|c| c.first_block..c.first_block + u64::from(c.num))
        .collect();
    for (i, hash) in hashes.iter().enumerate() {
        assert_eq!(
            l2_block_of(&net, *hash).await,
            Some(fi_blocks[i]),
            "inclusion {i}'s transfer is in its block: {fi_blocks:?}"
        );
        assert_fi_block(&net, fi_blocks[i], &[*hash]).await;
    }
    let stats = net.raiko("devnet/stats", None).await;
    assert!(stats["forced_derived"].as_u64() >= Some(5), "{stats}");
    let events = assert_continuous(&net).await;
    assert_node_saw(&net, 5).await;
    drop(traffic);
    let proposals = assert_none_due(&net).await;
    println!(
        "RESULT fi_five save_txs_ms={} save_to_l2_ms={} save_to_landed_ms={} split={} l1_blocks={l1_blocks:?} fi_blocks={fi_blocks:?} landed={} proposer_txs={}",
        saved.duration_since(sent).as_millis(),
        on_l2.duration_since(saved).as_millis(),
        landed_at.duration_since(saved).as_millis(),
        split
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("+"),
        events.len(),
        proposals.len(),
    );
}
