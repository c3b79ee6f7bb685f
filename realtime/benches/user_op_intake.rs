//! P4: durable `surge_sendUserOp` intake on loopback. Concurrent HTTP clients send ops to the
//! real server with the real store (fsync'd group commit on disk); the baseline is a no-op
//! method on the same server, measured in the same run. Targets: ≥ 2,000 req/s, p99 < 20 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is the failure report

use std::time::{Duration, Instant};

use realtime::bridge::{
    rpc::{self, RpcLimits, RpcState},
    status::StatusStore,
};
use serde_json::json;

const CLIENTS: usize = 32;
const REQUESTS: usize = 20_000;
const TARGET_RPS: f64 = 2_000.0;
const TARGET_P99: Duration = Duration::from_millis(20);

struct Run {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// `REQUESTS` calls of `method` from `CLIENTS` keep-alive clients; every answer must be a result.
async fn load(url: &str, method: &'static str) -> Run {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let url = url.to_string();
        tasks.spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::with_capacity(REQUESTS / CLIENTS);
            for n in 0..REQUESTS / CLIENTS {
                let body = json!({"jsonrpc": "2.0", "id": n, "method": method, "params": {
                    "submitter": "0x00000000000000000000000000000000000000aa",
                    "calldata": format!("0x{:064x}", c * REQUESTS + n),
                }});
                let sent = Instant::now();
                let answer: serde_json::Value = client
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                latencies.push(sent.elapsed());
                assert!(answer["result"].is_u64(), "{answer}");
            }
            latencies
        });
    }
    let mut all = Vec::with_capacity(REQUESTS);
    while let Some(done) = tasks.join_next().await {
        all.extend(done.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    Run {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let db = common::store::open(dir.path()).unwrap();
        let statuses = StatusStore::open(&db).unwrap();
        let (accepted, mut simulations) = tokio::sync::mpsc::unbounded_channel();
        // The BridgeHandler's share of an intake: taking the op off the channel.
        tokio::spawn(async move { while simulations.recv().await.is_some() {} });
        let mut module = rpc::module(RpcState {
            statuses: statuses.clone(),
            accepted,
            chain: None,
            disabled: None,
            returns: None,
        });
        module
            .register_method("bench_noop", |_, _, _| Ok::<u64, jsonrpsee::types::ErrorObjectOwned>(1))
            .unwrap();
        let limits = RpcLimits {
            max_body_bytes: 512 * 1024,
            max_batch: 64,
            max_connections: 1_024,
        };
        let (addr, _server) = rpc::serve("127.0.0.1:0".parse().unwrap(), limits, module)
            .await
            .unwrap();
        let url = format!("http://{addr}");

        load(&url, "bench_noop").await; // warm-up: connections, allocator
        let noop = load(&url, "bench_noop").await;
        let intake = load(&url, "surge_sendUserOp").await;
        let stored = statuses.unfinished().unwrap().len();
        assert_eq!(stored, REQUESTS, "every acknowledged op is stored");

        println!("{CLIENTS} keep-alive clients, {REQUESTS} requests each run, 2 worker threads");
        for (name, run) in [("no-op method", &noop), ("surge_sendUserOp (fsync'd)", &intake)] {
            println!(
                "{name:>28}: {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms",
                run.rps,
                ms(run.p50),
                ms(run.p99)
            );
        }
        let pass = intake.rps >= TARGET_RPS && intake.p99 < TARGET_P99;
        println!(
            "BENCH P4 intake_rps={:.0} p99_ms={:.2} p50_ms={:.2} noop_rps={:.0} noop_p99_ms={:.2} ratio_to_noop={:.3} target_rps={TARGET_RPS:.0} target_p99_ms={} pass={pass}",
            intake.rps,
            ms(intake.p99),
            ms(intake.p50),
            noop.rps,
            ms(noop.p99),
            intake.rps / noop.rps,
            TARGET_P99.as_millis()
        );
    });
}
