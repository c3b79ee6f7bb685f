//! End-to-end preconfirmation on the devnet with `PRECONF_ONLY=true`: the real `preconfer`
//! process turns L2 txs into blocks through the driver stand-in, and keeps going through bad
//! input from the engine and the driver.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use alloy::primitives::{Address, B256};
use common::anchor::GOLDEN_TOUCH_ADDRESS;
use support::{
    HEARTBEAT, SeenBlock,
    fault_proxy::{Fault, FaultProxy},
    message, sender, watch_blocks,
};

/// Checks every block the watcher saw: the anchor first, sent by golden touch to the Anchor.
fn assert_anchor_first(blocks: &[SeenBlock], anchor: Address) {
    for block in blocks {
        let (_, from, _, to) = block
            .txs
            .first()
            .unwrap_or_else(|| panic!("block {} is empty", block.number));
        assert_eq!(
            *from, GOLDEN_TOUCH_ADDRESS,
            "block {}: first tx sender",
            block.number
        );
        assert_eq!(*to, Some(anchor), "block {}: first tx target", block.number);
        for (i, (_, from, _, _)) in block.txs.iter().enumerate().skip(1) {
            assert_ne!(
                *from, GOLDEN_TOUCH_ADDRESS,
                "block {} tx {i}: a second anchor",
                block.number
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preconf_e2e_50_txs_from_5_senders_within_two_heartbeats() {
    let net = support::start(&[]).await;
    let anchor = net.devnet.contracts.anchor;
    let start_head = net.l2_head().await;

    // 10 rounds, one tx from each of 5 senders per round, as fast as the RPC takes them.
    let mut sent: HashMap<B256, (usize, u64, Instant)> = HashMap::new();
    for nonce in 0..10u64 {
        for s in 0..5 {
            let (hash, at) = net.send_transfer(sender(s), nonce).await;
            sent.insert(hash, (s, nonce, at));
        }
    }
    assert_eq!(sent.len(), 50);

    let blocks = watch_blocks(&net.l2, start_head + 1, Duration::from_secs(30), |seen| {
        let included = seen
            .iter()
            .flat_map(|b| &b.txs)
            .filter(|t| sent.contains_key(&t.0))
            .count();
        included == sent.len()
    })
    .await;

    let mut latency_max = Duration::ZERO;
    let mut included = 0;
    let mut next_nonce = [0u64; 5];
    for block in &blocks {
        for (hash, _, nonce, _) in &block.txs {
            if let Some((s, want_nonce, at)) = sent.get(hash) {
                included += 1;
                assert_eq!(*nonce, *want_nonce);
                assert_eq!(*nonce, next_nonce[*s], "sender {s}: nonces out of order");
                next_nonce[*s] += 1;
                latency_max = latency_max.max(block.seen_at.duration_since(*at));
            }
        }
    }
    assert_eq!(included, 50, "all txs preconfirmed; blocks: {blocks:?}");
    assert_anchor_first(&blocks, anchor);
    // The watcher polls every 25 ms: allow that on top of two heartbeats.
    let bound = 2 * HEARTBEAT + Duration::from_millis(100);
    println!(
        "RESULT e2e txs=50 blocks={} max_latency_ms={} bound_ms={}",
        blocks.len(),
        latency_max.as_millis(),
        bound.as_millis()
    );
    assert!(
        latency_max <= bound,
        "max latency {latency_max:?} > {bound:?}"
    );

    // The stand-in accepted every block the node sent: nothing rejected, and every L2 block
    // since the start is one the node counted as preconfirmed.
    // The block is on the L2 a moment before the driver's answer reaches the node: wait until
    // the node has recorded the head it sees.
    let head = net.l2_head().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut preconfirmed = net.metric("preconfer_blocks_preconfirmed_total", "").await;
    while (preconfirmed as u64) < head - start_head && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        preconfirmed = net.metric("preconfer_blocks_preconfirmed_total", "").await;
    }
    assert_eq!(
        preconfirmed as u64,
        head - start_head,
        "blocks the node preconfirmed"
    );
    assert_eq!(net.metric("preconfer_block_failures_total", "").await, 0.0);
    assert!(net.node_alive());
}

/// Sends one tx and waits until a block includes it: production works now.
async fn assert_block_production(net: &support::Network, key_index: usize, nonce: u64) {
    let from = net.l2_head().await + 1;
    let (hash, _) = net.send_transfer(sender(key_index), nonce).await;
    let blocks = watch_blocks(&net.l2, from, Duration::from_secs(20), |seen| {
        seen.iter().any(|b| b.txs.iter().any(|t| t.0 == hash))
    })
    .await;
    assert!(
        blocks.iter().any(|b| b.txs.iter().any(|t| t.0 == hash)),
        "tx {hash} not preconfirmed after the fault was cleared"
    );
    assert_anchor_first(&blocks, net.devnet.contracts.anchor);
}

fn cause_is(cause: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |l| l["fields"]["cause"].as_str() == Some(cause)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preconf_bad_input_is_logged_and_block_production_resumes() {
    let (devnet, dir) = support::start_devnet().await;
    let engine = FaultProxy::start(devnet.urls.l2_auth.clone(), "").await;
    let driver = FaultProxy::start(devnet.urls.l2_driver.clone(), "preconfBlocks").await;
    let net = support::spawn_node(
        devnet,
        dir,
        &[
            ("L2_AUTH_RPC_URL", engine.url.to_string()),
            ("L2_DRIVER_URL", driver.url.to_string()),
            ("RPC_DRIVER_PRECONF_TIMEOUT_MS", "1500".into()),
        ],
    )
    .await;
    // Each check uses the next (sender, nonce) so txs never collide.
    let mut next = (0..5).flat_map(|s| (0..8u64).map(move |n| (s, n)));
    let mut produce = async |net: &support::Network| {
        let (s, n) = next.next().unwrap();
        assert_block_production(net, s, n).await;
    };
    produce(&net).await;

    // 1. Malformed pool content (a tx without fields, then not JSON at all).
    engine.set(Fault::Body(
        r#"{"jsonrpc":"2.0","id":1,"result":[{"TxList":[{"type":"0x2"}]}]}"#.into(),
    ));
    net.wait_for_log(cause_is("pool_malformed"), Duration::from_secs(10))
        .await;
    engine.set(Fault::Body("not json at all".into()));
    net.wait_for_log(cause_is("pool_malformed"), Duration::from_secs(10))
        .await;
    engine.set(Fault::Status(500));
    net.wait_for_log(cause_is("pool_unavailable"), Duration::from_secs(10))
        .await;
    engine.set(Fault::Pass);
    produce(&net).await;

    // 2. Driver 4xx and 5xx: the node logs the cause and builds again on a later tick.
    driver.set(Fault::Status(400));
    produce_during_fault(&net, &driver, "driver_rejected", (4, 0)).await;
    driver.set(Fault::Status(503));
    produce_during_fault(&net, &driver, "driver_error", (4, 1)).await;

    // 3. Timeout: the driver inserts the block but answers after the node gave up. The node
    // must find the block at the L2 head and record it, not re-send the txs in a new block.
    driver.set(Fault::Delay(2_500));
    let from = net.l2_head().await + 1;
    let (hash, _) = net.send_transfer(sender(4), 2).await;
    net.wait_for_log(cause_is("driver_timeout"), Duration::from_secs(15))
        .await;
    driver.set(Fault::Pass);
    net.wait_for_log(
        |l| message(l).starts_with("the driver inserted the block whose answer was lost"),
        Duration::from_secs(15),
    )
    .await;
    produce(&net).await;
    let blocks = watch_blocks(&net.l2, from, Duration::from_secs(5), |_| true).await;
    let holding: Vec<u64> = blocks
        .iter()
        .filter(|b| b.txs.iter().any(|t| t.0 == hash))
        .map(|b| b.number)
        .collect();
    assert_eq!(
        holding.len(),
        1,
        "the timed-out block's tx is in exactly one block"
    );
    assert_anchor_first(&blocks, net.devnet.contracts.anchor);

    // 4. The L2 head moved under us: our last block is removed behind the node's back.
    let head = net.l2_head().await;
    let removed = reqwest::Client::new()
        .post(format!("{}reorgStaleBlock", net.devnet.urls.l2_driver))
        .header("authorization", net.bearer())
        .json(&serde_json::json!({"newHeadBlockNumber": head - 1}))
        .send()
        .await
        .unwrap();
    assert!(removed.status().is_success());
    net.wait_for_log(cause_is("head_moved"), Duration::from_secs(10))
        .await;
    produce(&net).await;

    assert!(net.node_alive(), "the node survived every fault");
    let logs = net.logs.lock().unwrap();
    assert!(!logs.iter().any(|l| l.to_string().contains("panicked")));
}

/// With `fault` active, a tx makes the node log `cause`; once cleared, the tx is preconfirmed.
async fn produce_during_fault(
    net: &support::Network,
    proxy: &FaultProxy,
    cause: &'static str,
    (key, nonce): (usize, u64),
) {
    let from = net.l2_head().await + 1;
    let (hash, _) = net.send_transfer(sender(key), nonce).await;
    net.wait_for_log(cause_is(cause), Duration::from_secs(15))
        .await;
    proxy.set(Fault::Pass);
    let blocks = watch_blocks(&net.l2, from, Duration::from_secs(20), |seen| {
        seen.iter().any(|b| b.txs.iter().any(|t| t.0 == hash))
    })
    .await;
    assert!(
        blocks.iter().any(|b| b.txs.iter().any(|t| t.0 == hash)),
        "{cause}: tx not preconfirmed after the fault cleared"
    );
}
