//! End to end with forced inclusions (issue 22): a stranger queues L2 txs in the devnet's L1
//! inbox as any outside client would (`support::forced`, the protocol's encoding, not the
//! node's codec), and the real `preconfer` preconfirms, proves and consumes them before they
//! fall due, at most `FI_MAX_PER_PROPOSAL` (4) per proposal. Every test ends by checking the L1
//! receipts: no proposal reverted with `UnprocessedForcedInclusionIsDue`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use alloy::{
    consensus::TxEnvelope,
    eips::eip4844::Blob,
    primitives::{Address, B256},
    providers::Provider,
};
use devnet::accounts::{self, TEST_KEYS};
use support::{
    Network, forced,
    forced_checks::{
        FI_MAX_PER_PROPOSAL, assert_continuous, assert_fi_block, assert_node_saw, assert_none_due,
        consumed, l2_block_of, landed_fi,
    },
    keep_sending,
    landed::landed,
    sender, wait_until,
};

/// The e2e tests here measure timing: one devnet at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The stranger who pays for the inclusions: a funded test key nothing else here uses (the
/// background traffic is `sender(0)`, the later transfers `sender(1)`).
const STRANGER: &str = TEST_KEYS[4];
/// Where the stranger's transfers go.
const RECIPIENT: Address = Address::repeat_byte(0xf1);

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
    start_with(&[]).await
}

/// [`start`] with more settings.
async fn start_with(
    extra: &[(&'static str, String)],
) -> (Network, tokio::sync::oneshot::Sender<()>) {
    let mut env = propose_env();
    env.extend_from_slice(extra);
    let net = support::start(&env).await;
    let traffic = keep_sending(&net, sender(0), Duration::from_millis(500));
    wait_until(
        "a first proposal lands",
        Duration::from_secs(90),
        || async { net.landed_total().await >= 1.0 },
    )
    .await;
    (net, traffic)
}

/// The stranger's next two L2 transfers, signed.
async fn two_transfers(net: &Network) -> [TxEnvelope; 2] {
    let chain_id = net.l2.get_chain_id().await.unwrap();
    let nonce = net
        .l2
        .get_transaction_count(accounts::address(STRANGER))
        .await
        .unwrap();
    [0, 1].map(|i| forced::l2_transfer(STRANGER, chain_id, nonce + i, RECIPIENT))
}

/// Waits, within a minute of `saved`, until every tx of `hashes` is on L2 and a landed
/// proposal consumed the inclusion; returns when the txs were seen on L2.
async fn wait_on_l2_and_consumed(net: &Network, hashes: &[B256], saved: Instant) -> Instant {
    let deadline = saved + Duration::from_secs(60);
    wait_until("the inclusion's txs on L2", left(deadline), || async {
        for hash in hashes {
            if l2_block_of(net, *hash).await.is_none() {
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
        || async { forced::queue(net).await.0 >= 1 && landed_fi(net).await >= 1 },
    )
    .await;
    on_l2
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_strangers_forced_inclusion_is_preconfirmed_proved_and_consumed_within_a_minute() {
    let _serial = SERIAL.lock().await;
    let (net, traffic) = start().await;
    let txs = two_transfers(&net).await;
    let hashes: Vec<B256> = txs.iter().map(|t| *t.tx_hash()).collect();
    let payload = forced::fi_payload(&txs);
    let blob = forced::blob_of(&payload);
    assert_encoding(&payload, &blob, &txs);

    let sent = Instant::now();
    let receipt = forced::save_forced_inclusion(&net, STRANGER, blob).await;
    let saved = Instant::now();
    let on_l2 = wait_on_l2_and_consumed(&net, &hashes, saved).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forced_inclusion_sealed_to_the_rollup_key_is_opened_and_consumed() {
    let _serial = SERIAL.lock().await;
    let secret = [0x42u8; 32];
    let hex = format!("0x{}", alloy::hex::encode(secret));
    let (net, traffic) = start_with(&[("SURGE_PRIVACY_FI_PRIVKEY", hex.clone())]).await;
    net.raiko(
        "devnet/config",
        Some(serde_json::json!({ "fi_privkey": hex })),
    )
    .await;
    let txs = two_transfers(&net).await;
    let hashes: Vec<B256> = txs.iter().map(|t| *t.tx_hash()).collect();
    let plain = forced::fi_payload(&txs);
    assert_encoding(&plain, &forced::blob_of(&plain), &txs);
    let rollup = support::forced_seal::public_key(secret);
    let sealed = support::forced_seal::seal(&plain, &rollup, [0x17; 32]);
    assert!(
        !sealed.windows(32).any(|w| w == txs[0].tx_hash().as_slice()),
        "sealed"
    );

    forced::save_forced_inclusion(&net, STRANGER, forced::blob_of(&sealed)).await;
    let saved = Instant::now();
    let on_l2 = wait_on_l2_and_consumed(&net, &hashes, saved).await;
    let consumed = consumed(&net).await;
    assert_eq!(consumed.len(), 1, "{consumed:?}");
    assert_eq!(consumed[0].num, 1, "{consumed:?}");
    assert_fi_block(&net, consumed[0].first_block, &hashes).await;
    let stats = net.raiko("devnet/stats", None).await;
    assert!(stats["forced_derived"].as_u64() >= Some(1), "{stats}");
    assert_eq!(stats["forced_empty"].as_u64(), Some(0), "{stats}");
    assert_continuous(&net).await;
    drop(traffic);
    assert_none_due(&net).await;
    println!(
        "RESULT fi_sealed save_to_l2_ms={} save_to_landed_ms={}",
        on_l2.duration_since(saved).as_millis(),
        saved.elapsed().as_millis()
    );
}
