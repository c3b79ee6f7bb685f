//! End-to-end: the node checks every block's txs against the Credible Layer sidecar stand-in,
//! whose demo assertion forbids changing the owner of `OwnableTarget`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use alloy::{
    consensus::TxEip1559,
    primitives::{Address, B256, Bytes, TxKind},
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use bindings::doubles::OwnableTarget;
use devnet::{accounts, credible::CredibleSidecar, deploy::OWNABLE_OWNER_KEY};
use serde_json::Value;
use support::{Network, sender, wait_until};

/// The stand-in runs txs on the L2 through RPC in a debug build: give blocks time.
const BUDGET_MS: &str = "3000";
/// Blocks a dropped tx sits out in these tests.
const RETRY_AFTER: u64 = 3;

async fn start() -> (Network, CredibleSidecar) {
    let (devnet, dir) = support::start_devnet().await;
    let sidecar = CredibleSidecar::start(&devnet.urls.l2_evm, devnet.contracts.ownable_target, 0)
        .expect("sidecar stand-in");
    let url = sidecar.url.as_str().trim_end_matches('/').to_string();
    let net = support::spawn_node(
        devnet,
        dir,
        &[
            ("CREDIBLE_LAYER_URL", url),
            ("CREDIBLE_LAYER_BLOCK_BUDGET_MS", BUDGET_MS.into()),
            ("CREDIBLE_LAYER_RETRY_AFTER_BLOCKS", RETRY_AFTER.to_string()),
        ],
    )
    .await;
    wait_up(&net, 1.0).await;
    (net, sidecar)
}

async fn wait_up(net: &Network, up: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while net.metric("preconfer_credible_layer_sidecar_up", "").await != up {
        if Instant::now() > deadline {
            let logs: Vec<Value> = net
                .logs
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.to_string().contains("redible"))
                .cloned()
                .collect();
            let metrics: Vec<String> = net
                .metrics()
                .await
                .lines()
                .filter(|l| l.contains("credible"))
                .map(String::from)
                .collect();
            panic!(
                "credible_layer_sidecar_up is not {up} within 30 s; metrics {metrics:#?}; the node said {logs:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stats(sidecar: &CredibleSidecar) -> Value {
    reqwest::get(sidecar.stats_url.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Signs and sends a call from `key` with `nonce`.
async fn send_call(l2: &DynProvider, key: &str, nonce: u64, to: Address, input: Vec<u8>) -> B256 {
    let tx = TxEip1559 {
        gas_limit: 200_000,
        to: TxKind::Call(to),
        input: Bytes::from(input),
        ..Default::default()
    };
    support::send_signed_on(l2, key, nonce, tx).await.0
}

async fn nonce(l2: &DynProvider, key: &str) -> u64 {
    l2.get_transaction_count(accounts::address(key))
        .pending()
        .await
        .unwrap()
}

/// Its block, once it has a receipt.
async fn block_of(l2: &DynProvider, hash: B256) -> Option<u64> {
    l2.get_transaction_receipt(hash)
        .await
        .unwrap()
        .and_then(|r| r.block_number)
}

async fn wait_block_of(net: &Network, hash: B256, within: Duration) -> u64 {
    wait_until(&format!("tx {hash} preconfirmed"), within, || async {
        block_of(&net.l2, hash).await.is_some()
    })
    .await;
    block_of(&net.l2, hash).await.unwrap_or_default()
}

/// Sends poke and transferOwnership from the owner, and a transfer from `other`, at once, right
/// after a block (so the next tick takes all three). Returns (poke, transfer of ownership,
/// other's transfer).
async fn violate(net: &Network, other: &'static str) -> (B256, B256, B256) {
    let target = net.devnet.contracts.ownable_target;
    let owner_nonce = nonce(&net.l2, OWNABLE_OWNER_KEY).await;
    let mut other_nonce = nonce(&net.l2, other).await;
    // A tick that starts while the three are being sent could take some and leave the rest
    // for the next block: send them just after one.
    let (pacer, _) = net.send_transfer(other, other_nonce).await;
    wait_block_of(net, pacer, Duration::from_secs(30)).await;
    other_nonce += 1;
    let poke = OwnableTarget::pokeCall {}.abi_encode();
    let steal = OwnableTarget::transferOwnershipCall {
        _newOwner: accounts::address(other),
    }
    .abi_encode();
    let (p, s, o) = tokio::join!(
        send_call(&net.l2, OWNABLE_OWNER_KEY, owner_nonce, target, poke),
        send_call(&net.l2, OWNABLE_OWNER_KEY, owner_nonce + 1, target, steal),
        net.send_transfer(other, other_nonce),
    );
    (p, s, o.0)
}

async fn owner(net: &Network) -> Address {
    OwnableTarget::new(net.devnet.contracts.ownable_target, net.l2.clone())
        .owner()
        .call()
        .await
        .unwrap()
}

/// The ownership transfer stays out while the rest of its block is preconfirmed, and after
/// it is tried again.
async fn assert_enforced(net: &Network, other: &'static str) -> u64 {
    let (poke, steal, transfer) = violate(net, other).await;
    let poke_block = wait_block_of(net, poke, Duration::from_secs(30)).await;
    let transfer_block = wait_block_of(net, transfer, Duration::from_secs(30)).await;
    assert_eq!(
        poke_block, transfer_block,
        "the owner's earlier tx and the other sender's tx are preconfirmed in the same block"
    );
    // Other traffic makes blocks (a block only for the held tx is not built).
    let traffic = support::keep_sending(net, sender(5), Duration::from_millis(300));
    let head = net.l2_head().await;
    let more = 2 * RETRY_AFTER + 1;
    wait_until("blocks past a retry", Duration::from_secs(60), || async {
        net.l2_head().await >= head + more
    })
    .await;
    drop(traffic);
    assert_eq!(
        block_of(&net.l2, steal).await,
        None,
        "transferOwnership was preconfirmed"
    );
    assert_eq!(owner(net).await, accounts::address(OWNABLE_OWNER_KEY));
    println!(
        "RESULT e2e credible_layer poke_block={poke_block} other_sender_block={transfer_block} ownership_tx=never"
    );
    poke_block
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ownership_transfer_is_never_preconfirmed_while_the_rest_of_its_block_is() {
    let (net, sidecar) = start().await;
    let poke_block = assert_enforced(&net, sender(0)).await;
    // The drop happened while building the poke's block: the same sender's earlier tx and the
    // other sender's tx went in, the transfer of ownership did not.
    let dropped_in: Vec<u64> = net
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|l| support::message(l).starts_with("tx left out of the block"))
        .filter_map(|l| l["fields"]["block"].as_u64())
        .collect();
    assert!(
        dropped_in.contains(&poke_block),
        "no drop in block {poke_block}: {dropped_in:?}"
    );
    let stats = stats(&sidecar).await;
    let dropped = net
        .metric("preconfer_credible_layer_dropped_txs_total", "")
        .await;
    println!("RESULT e2e credible_layer stats={stats} node_dropped={dropped}");
    assert_eq!(stats["cache_invalidations"], 0, "{stats}");
    assert_eq!(
        stats["reorgs"].as_f64(),
        Some(dropped),
        "one ReorgEvent per dropped tx: {stats}"
    );
    assert!(
        dropped >= 2.0,
        "the transfer of ownership was not tried again: {dropped}"
    );
    assert_eq!(stats["duplicate_event_ids"], 0, "{stats}");
    assert!(stats["verdicts"]["RESULT_STATUS_ASSERTION_FAILED"].as_u64() >= Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sidecar_never_stalls_blocks_and_enforcement_resumes_when_it_is_back() {
    let (net, sidecar) = start().await;
    let port = sidecar.port();
    drop(sidecar);
    wait_up(&net, 0.0).await;
    // Without a sidecar every tx goes in, within the usual heartbeat.
    let mut worst = Duration::ZERO;
    for _ in 0..3 {
        let sent = Instant::now();
        let (hash, _) = net
            .send_transfer(sender(1), nonce(&net.l2, sender(1)).await)
            .await;
        wait_block_of(&net, hash, Duration::from_secs(10)).await;
        worst = worst.max(sent.elapsed());
    }
    assert!(
        worst < support::HEARTBEAT * 3,
        "a tx took {worst:?} to be preconfirmed without the sidecar"
    );
    let fail_open = net
        .metric(
            "preconfer_credible_layer_fail_open_blocks_total",
            "disconnected",
        )
        .await;
    assert!(fail_open >= 1.0, "no fail-open block counted");
    let sidecar = CredibleSidecar::start(
        &net.devnet.urls.l2_evm,
        net.devnet.contracts.ownable_target,
        port,
    )
    .expect("restarted sidecar");
    wait_up(&net, 1.0).await;
    assert_enforced(&net, sender(2)).await;
    let stats = stats(&sidecar).await;
    println!(
        "RESULT e2e credible_layer_restart worst_inclusion_ms={} fail_open_blocks={fail_open} stats={stats}",
        worst.as_millis()
    );
    assert_eq!(stats["duplicate_event_ids"], 0, "{stats}");
    assert!(stats["reorgs"].as_u64() >= Some(1), "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_is_not_skipped_by_a_long_running_sidecar() {
    let (mut net, sidecar) = start().await;
    let (hash, _) = net.send_transfer(sender(3), 0).await;
    let block = wait_block_of(&net, hash, Duration::from_secs(30)).await;
    // Killed once the sidecar's head is that block (killed between the driver's answer and the
    // CommitHead, the restarted node could only name an iteration the sidecar never saw, and the
    // sidecar would drop its cache once: see docs/architecture.md).
    wait_until(
        "the sidecar's head at the block",
        Duration::from_secs(30),
        || async { stats(&sidecar).await["head"].as_u64() >= Some(block) },
    )
    .await;
    net.kill9_and_restart().await;
    wait_up(&net, 1.0).await;
    assert_enforced(&net, sender(4)).await;
    let stats = stats(&sidecar).await;
    println!("RESULT e2e credible_layer_node_restart stats={stats}");

    assert_eq!(stats["duplicate_event_ids"], 0, "{stats}");
    assert_eq!(stats["cache_invalidations"], 0, "{stats}");
    assert!(stats["reorgs"].as_u64() >= Some(1), "{stats}");
}
