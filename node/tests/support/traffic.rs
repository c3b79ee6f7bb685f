//! Load for the reliability tests: L2 transfers whose hashes are kept (so none may be lost), user
//! ops that ping L1 (so every accepted one must end final), the checks that nothing was lost, and
//! a seeded random source whose seed is printed so a failing run can be replayed.

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use bindings::doubles;
use serde_json::{Value, json};

use super::{Network, sender};

/// A small xorshift generator: random moments, replayable from the printed seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next raw value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Milliseconds in `low..high`.
    pub fn between(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

/// The seed in `var`, or one from the clock.
pub fn seed(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// Transfers from each of `senders` (test keys 0..senders) every `every` until stopped.
pub struct Traffic {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    sent: std::sync::Arc<std::sync::Mutex<Vec<B256>>>,
}

impl Traffic {
    /// Starts sending on `l2`.
    pub fn start(l2: DynProvider, senders: usize, every: Duration) -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = sent.clone();
        let task = tokio::spawn(async move {
            let mut nonces = Vec::new();
            for i in 0..senders {
                let from = devnet::accounts::address(sender(i));
                nonces.push(l2.get_transaction_count(from).await.unwrap());
            }
            loop {
                if !matches!(
                    stopped.try_recv(),
                    Err(tokio::sync::oneshot::error::TryRecvError::Empty)
                ) {
                    return;
                }
                for (i, nonce) in nonces.iter_mut().enumerate() {
                    let (hash, _) = super::send_transfer_on(&l2, sender(i), *nonce).await;
                    log.lock().unwrap().push(hash);
                    *nonce += 1;
                }
                tokio::time::sleep(every).await;
            }
        });
        Self { stop, task, sent }
    }

    /// The hashes the L2 accepted so far.
    pub fn sent(&self) -> Vec<B256> {
        self.sent.lock().unwrap().clone()
    }

    /// Stops sending; the hashes the L2 accepted.
    pub async fn stop(self) -> Vec<B256> {
        let _ = self.stop.send(());
        self.task.await.unwrap();
        self.sent.lock().unwrap().clone()
    }
}

/// Waits until every one of `hashes` has a receipt on `l2`.
pub async fn all_in_blocks(l2: &DynProvider, hashes: &[B256], within: Duration) {
    let deadline = Instant::now() + within;
    for hash in hashes {
        while l2.get_transaction_receipt(*hash).await.unwrap().is_none() {
            assert!(Instant::now() < deadline, "tx {hash} never got a block");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The calldata of `PingL1.ping(amount)`: an op that pings the L2 counter from the Multicall.
pub fn ping_calldata(amount: u64) -> Bytes {
    doubles::PingL1::pingCall {
        _amount: U256::from(amount),
    }
    .abi_encode()
    .into()
}

/// A user op that pings the L2 counter straight from the Multicall; its id.
pub async fn send_ping(net: &Network, amount: u64) -> u64 {
    send_op_to(net, net.devnet.contracts.ping_l1, ping_calldata(amount)).await
}

/// `surge_sendUserOp` of a call to `submitter` (any L1 contract); the op's id.
pub async fn send_op_to(net: &Network, submitter: Address, calldata: Bytes) -> u64 {
    let response = net
        .surge(
            "surge_sendUserOp",
            json!({"submitter": submitter, "calldata": calldata}),
        )
        .await;
    response["result"]
        .as_u64()
        .unwrap_or_else(|| panic!("no id: {response}"))
}

/// `surge_txStatus` of op `id`, as the node answers it.
pub async fn op_status(net: &Network, id: u64) -> Value {
    let response = net.surge("surge_txStatus", json!({"userOpId": id})).await;
    response
        .get("result")
        .cloned()
        .unwrap_or_else(|| panic!("no status for {id}: {response}"))
}

/// Every distinct status of op `id` until it is final.
pub async fn op_until_final(net: &Network, id: u64, within: Duration) -> Vec<Value> {
    super::poll_final(net, &format!("op {id}"), within, || async move {
        Some(op_status(net, id).await)
    })
    .await
}

/// `/readyz`: its status code and body.
pub async fn readyz(net: &Network) -> (u16, Value) {
    let response = reqwest::get(format!("{}/readyz", net.health_url()))
        .await
        .unwrap();
    let code = response.status().as_u16();
    (code, response.json().await.unwrap_or(Value::Null))
}
