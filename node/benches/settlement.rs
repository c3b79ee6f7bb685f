//! P6: real-time settlement. On the devnet as `scripts/devnet up` starts it (2 s L1 slots,
//! 500 ms proofs, the default 2 s heartbeat and cadence), L2 transfers at 1, 10 and 100 per
//! block for 30 s; per L2 block, preconfirmation (first seen on L2) → settlement (the inbox's
//! checkpoint at or past it, i.e. proved and on L1) latency p50/p99, and the L1 gas of the
//! proposal txs per settled L2 block. Baseline in the same run: one block per proposal
//! (`MAX_BLOCKS_PER_BATCH=1`, the peer's deployment setting). `PRECONF_MIN_TXS=1` in both, so
//! that one tx makes a block. Ends with `BENCH P6 …`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is the failure report

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use alloy::providers::Provider;
use support::{Network, sender};

const TRAFFIC: Duration = Duration::from_secs(30);
const HEARTBEAT: Duration = Duration::from_secs(2);
const SENDERS: usize = 7;

/// What one run measured.
struct Figures {
    p50: Duration,
    p99: Duration,
    blocks: usize,
    gas_per_block: f64,
    proposals: usize,
}

/// `ProposedAndProved` checkpoints so far: (checkpoint number, tx hash).
async fn landed(net: &Network) -> Vec<(u64, alloy::primitives::B256)> {
    net.landed_logs()
        .await
        .into_iter()
        .map(|(log, e)| {
            (
                e.checkpoint.blockNumber.to::<u64>(),
                log.transaction_hash.unwrap(),
            )
        })
        .collect()
}

async fn measure(per_block: usize, baseline: bool) -> Figures {
    let mut settings = vec![("PRECONF_MIN_TXS", "1".to_string())];
    if baseline {
        settings.push(("MAX_BLOCKS_PER_BATCH", "1".to_string()));
    }
    let net = support::start_as_devnet_up_with(&settings).await;
    let l1 = net.l1();
    let start_head = net.l2_head().await;
    let before = landed(&net).await;
    // Traffic: `per_block` transfers per heartbeat, round-robin over the senders.
    let l2 = net.l2.clone();
    let traffic = tokio::spawn(async move {
        let mut nonces = [0u64; SENDERS];
        let until = Instant::now() + TRAFFIC;
        let mut n = 0;
        while Instant::now() < until {
            let tick = Instant::now();
            for _ in 0..per_block {
                let i = n % SENDERS;
                support::send_transfer_on(&l2, sender(i), nonces[i]).await;
                nonces[i] += 1;
                n += 1;
            }
            tokio::time::sleep(HEARTBEAT.saturating_sub(tick.elapsed())).await;
        }
    });
    // Per block: when first seen, when settled.
    let mut seen: BTreeMap<u64, (Instant, Option<Instant>)> = BTreeMap::new();
    let deadline = Instant::now() + TRAFFIC + Duration::from_secs(90);
    let mut last_block = None;
    loop {
        assert!(Instant::now() < deadline, "blocks not settled in time");
        let head = net.l2_head().await;
        let now = Instant::now();
        for number in start_head + 1..=head {
            seen.entry(number).or_insert((now, None));
        }
        let checkpoint = landed(&net).await.last().map_or(0, |e| e.0);
        for (number, (_, settled)) in seen.iter_mut() {
            if settled.is_none() && *number <= checkpoint {
                *settled = Some(now);
            }
        }
        if traffic.is_finished() && last_block.is_none() {
            last_block = Some(head);
        }
        if last_block.is_some_and(|last| checkpoint >= last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last_block = last_block.unwrap();
    let mut latency: Vec<Duration> = seen
        .range(..=last_block)
        .filter_map(|(_, (at, settled))| settled.map(|s| s.duration_since(*at)))
        .collect();
    latency.sort();
    let proposals: Vec<_> = landed(&net).await.into_iter().skip(before.len()).collect();
    let mut gas = 0u64;
    for (_, tx) in &proposals {
        gas += l1
            .get_transaction_receipt(*tx)
            .await
            .unwrap()
            .unwrap()
            .gas_used;
    }
    let settled_blocks = proposals.last().map_or(0, |p| p.0) - start_head;
    let pick = |q: f64| latency[((latency.len() - 1) as f64 * q).round() as usize];
    Figures {
        p50: pick(0.5),
        p99: pick(0.99),
        blocks: latency.len(),
        gas_per_block: gas as f64 / settled_blocks.max(1) as f64,
        proposals: proposals.len(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut line = String::from("BENCH P6");
    for per_block in [1usize, 10, 100] {
        let ours = measure(per_block, false).await;
        let base = measure(per_block, true).await;
        println!(
            "P6 txs_per_block={per_block}: ours p50={}ms p99={}ms blocks={} proposals={} l1_gas_per_block={:.0} | one-block-per-proposal p50={}ms p99={}ms blocks={} proposals={} l1_gas_per_block={:.0}",
            ours.p50.as_millis(),
            ours.p99.as_millis(),
            ours.blocks,
            ours.proposals,
            ours.gas_per_block,
            base.p50.as_millis(),
            base.p99.as_millis(),
            base.blocks,
            base.proposals,
            base.gas_per_block,
        );
        line.push_str(&format!(
            " p50_ms_{per_block}={} p99_ms_{per_block}={} gas_per_block_{per_block}={:.0} base_p50_ms_{per_block}={} base_p99_ms_{per_block}={} base_gas_per_block_{per_block}={:.0} gas_ratio_{per_block}={:.3} p50_ratio_{per_block}={:.3}",
            ours.p50.as_millis(),
            ours.p99.as_millis(),
            ours.gas_per_block,
            base.p50.as_millis(),
            base.p99.as_millis(),
            base.gas_per_block,
            ours.gas_per_block / base.gas_per_block.max(1.0),
            ours.p50.as_secs_f64() / base.p50.as_secs_f64().max(1e-3),
        ));
    }
    println!("{line}");
}
