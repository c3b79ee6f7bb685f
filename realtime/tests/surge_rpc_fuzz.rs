//! 10,000 malformed `surge_*` requests (wrong types, bad hex, unknown methods, broken JSON,
//! oversized bodies and batches): every one is answered with a JSON-RPC error, nothing is
//! stored, and the server still serves a valid request afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::net::SocketAddr;

use realtime::bridge::{
    rpc::{self, RpcLimits, RpcState},
    status::StatusStore,
};
use serde_json::{Value, json};

const REQUESTS: usize = 10_000;
const LIMITS: RpcLimits = RpcLimits {
    max_body_bytes: 64 * 1024,
    max_batch: 8,
    max_connections: 256,
};

/// A small deterministic generator (xorshift64*): the same 10,000 cases on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const ADDRESS: &str = "0x00000000000000000000000000000000000000aa";

/// A wrong value of some JSON type.
fn junk(rng: &mut Rng) -> Value {
    match rng.next() % 10 {
        0 => json!(null),
        1 => json!(rng.next()),
        2 => json!(-1),
        3 => json!("0xzz"),
        4 => json!("0x123"),
        5 => json!([1, 2, 3]),
        6 => json!({"nested": {"deep": [null]}}),
        7 => json!(true),
        8 => json!(1.5e300),
        _ => json!("not hex at all"),
    }
}

/// One malformed request body.
fn case(rng: &mut Rng, n: usize) -> String {
    let id = json!(n);
    let call = |method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
    };
    match rng.next() % 16 {
        0 => call(
            "surge_sendUserOp",
            json!({"submitter": junk(rng), "calldata": "0x00"}),
        ),
        1 => call(
            "surge_sendUserOp",
            json!({"submitter": ADDRESS, "calldata": junk(rng)}),
        ),
        2 => call(
            "surge_sendUserOp",
            json!({"submitter": "0xabc", "calldata": "0x00"}),
        ),
        3 => call("surge_sendUserOp", junk(rng)),
        4 => call("surge_sendUserOp", json!({"calldata": "0x00"})),
        5 => call("surge_userOpStatus", json!([junk(rng)])),
        6 => call("surge_userOpStatus", json!({"id": 1})),
        7 => call("surge_txStatus", json!({})),
        8 => call(
            "surge_txStatus",
            json!({"userOpId": "1", "txHash": junk(rng)}),
        ),
        9 => call(
            rng.pick(&[
                "surge_nope",
                "eth_chainId",
                "",
                "surge_sendUserOp2",
                "SURGE_SENDUSEROP",
            ]),
            json!([]),
        ),
        10 => {
            let full = call(
                "surge_sendUserOp",
                json!({"submitter": ADDRESS, "calldata": "0x00"}),
            );
            full[..(rng.next() as usize % full.len())].to_string()
        }
        11 => rng
            .pick(&["42", "\"x\"", "[]", "{}", "null", "{\"jsonrpc\":\"2.0\"}"])
            .to_string(),
        12 => json!({"jsonrpc": "1.0", "id": id, "method": "surge_txStatus"}).to_string(),
        13 if n.is_multiple_of(50) => {
            // Bigger than the body limit.
            let calldata = format!("0x{}", "ab".repeat(LIMITS.max_body_bytes as usize));
            call(
                "surge_sendUserOp",
                json!({"submitter": ADDRESS, "calldata": calldata}),
            )
        }
        14 if n.is_multiple_of(10) => {
            // More calls than a batch may hold.
            let calls: Vec<Value> = (0..=LIMITS.max_batch)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "surge_userOpStatus", "params": [i]}))
                .collect();
            Value::Array(calls).to_string()
        }
        15 => {
            // A batch of malformed calls.
            let calls: Vec<Value> = (0..3)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "surge_sendUserOp", "params": junk(rng)}))
                .collect();
            Value::Array(calls).to_string()
        }
        _ => call("surge_userOpStatus", json!(["1"])),
    }
}

/// Every response object in `body` is a JSON-RPC error with a code and a message.
fn all_errors(body: &Value) -> bool {
    let one = |v: &Value| {
        v.get("result").is_none()
            && v["error"]["code"].is_i64()
            && v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
    };
    match body {
        Value::Array(items) => !items.is_empty() && items.iter().all(one),
        other => one(other),
    }
}

async fn start() -> (SocketAddr, StatusStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = common::store::open(dir.path()).unwrap();
    let statuses = StatusStore::open(&db).unwrap();
    let (accepted, _) = tokio::sync::mpsc::unbounded_channel();
    let state = RpcState {
        statuses: statuses.clone(),
        accepted,
        chain: None,
        disabled: None,
        returns: None,
    };
    let (addr, handle) = rpc::serve("127.0.0.1:0".parse().unwrap(), LIMITS, rpc::module(state))
        .await
        .unwrap();
    // The server lives as long as its handle; the test process ends it.
    std::mem::forget(handle);
    (addr, statuses, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_requests_each_get_a_json_rpc_error() {
    let (addr, statuses, _dir) = start().await;
    let url = format!("http://{addr}");
    let client = reqwest::Client::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let bodies: Vec<String> = (0..REQUESTS).map(|n| case(&mut rng, n)).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in bodies.chunks(REQUESTS / 16) {
        let (client, url, chunk) = (client.clone(), url.clone(), chunk.to_vec());
        tasks.spawn(async move {
            let mut failures = Vec::new();
            // The server closes a connection after refusing an oversized body (it cannot
            // drain it): such bodies go on a connection of their own, as a real client's
            // retry would.
            let single = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            for body in chunk {
                let client = if body.len() > LIMITS.max_body_bytes as usize {
                    &single
                } else {
                    &client
                };
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{body:.200}: {e:?}"));
                let status = response.status();
                let text = response.text().await.unwrap();
                let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if !all_errors(&parsed) {
                    failures.push(format!("{status} {body:.200} → {text:.300}"));
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        failures.extend(done.unwrap());
    }
    println!(
        "RESULT fuzz requests={REQUESTS} not_an_error={}",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} answers were not JSON-RPC errors, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        statuses.unfinished().unwrap().is_empty(),
        "no malformed op was stored"
    );

    // Still serving.
    let ok: Value = client
        .post(&url)
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "surge_sendUserOp",
            "params": {"submitter": ADDRESS, "calldata": "0x1234"}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["result"], 1, "{ok}");
    let status: Value = client
        .post(&url)
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "surge_txStatus", "params": [{"userOpId": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["result"], json!({"status": "Pending"}), "{status}");
}
