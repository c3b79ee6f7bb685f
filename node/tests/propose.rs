//! End to end with proving and proposing (`PRECONF_ONLY=false`): the real `preconfer` against
//! the devnet, whose Raiko stand-in re-derives every proposal from its blobs and whose L1 inbox
//! checks the mock proof. One devnet per test; the tests share the build.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::B256,
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use bindings::IRealTimeInbox::ProposedAndProved;
use serde_json::{Value, json};
use support::{Network, sender};

/// The inbox's `ProposedAndProved` events so far, in chain order:
/// (lastFinalizedBlockHash, checkpoint number, checkpoint hash, tx hash).
async fn landed(net: &Network) -> Vec<(B256, u64, B256, B256)> {
    let l1: DynProvider = ProviderBuilder::new()
        .connect_http(net.devnet.urls.l1.clone())
        .erased();
    let logs = l1
        .get_logs(
            &Filter::new()
                .address(net.devnet.contracts.inbox)
                .event_signature(ProposedAndProved::SIGNATURE_HASH)
                .from_block(BlockNumberOrTag::Earliest)
                .to_block(BlockNumberOrTag::Latest),
        )
        .await
        .unwrap();
    logs.iter()
        .map(|log| {
            let e = ProposedAndProved::decode_log(&log.inner).unwrap();
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
    events
}

async fn raiko(net: &Network, path: &str, body: Option<Value>) -> Value {
    let url = net.devnet.urls.raiko.join(path).unwrap();
    let client = reqwest::Client::new();
    let request = match body {
        Some(body) => client.post(url).json(&body),
        None => client.get(url),
    };
    request.send().await.unwrap().json().await.unwrap()
}

/// Keeps L2 txs coming: one transfer per sender per call, nonces tracked by the caller.
async fn send_round(net: &Network, nonces: &mut [u64]) {
    for (i, nonce) in nonces.iter_mut().enumerate() {
        net.send_transfer(sender(i), *nonce).await;
        *nonce += 1;
    }
}

/// Sends txs until `done` holds (checked every heartbeat) or `within` passes.
async fn drive_until<F, Fut>(net: &Network, nonces: &mut [u64], within: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if done().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "condition not reached within {within:?}"
        );
        send_round(net, nonces).await;
        tokio::time::sleep(support::HEARTBEAT).await;
    }
}

fn propose_env() -> Vec<(&'static str, String)> {
    vec![
        ("PRECONF_ONLY", "false".into()),
        ("PRECONF_MIN_TXS", "1".into()),
        ("MAX_BLOCKS_PER_BATCH", "1".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_proposals_land_in_order_and_each_was_rederived_from_its_blobs() {
    let net = support::start(&propose_env()).await;
    let mut nonces = vec![0u64; 2];
    drive_until(&net, &mut nonces, Duration::from_secs(150), || async {
        net.metric("preconfer_proposals_landed_total", "").await >= 10.0
    })
    .await;
    let events = assert_continuous(&net).await;
    assert!(events.len() >= 10, "{events:?}");
    let stats = raiko(&net, "devnet/stats", None).await;
    let derived = stats["derived"].as_u64().unwrap();
    assert!(
        derived >= events.len() as u64,
        "stats {stats}, landed {}",
        events.len()
    );
    assert_eq!(stats["refused"], json!(0), "{stats}");
    assert_eq!(
        net.metric("preconfer_proposals_failed_total", "").await,
        0.0
    );
    println!(
        "RESULT e2e proposals_landed={} raiko_derived={derived} last_checkpoint={}",
        events.len(),
        events.last().map_or(0, |e| e.1)
    );
}
