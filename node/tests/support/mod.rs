//! A devnet with a `preconfer` process running against it, for end-to-end tests: start, logs,
//! metrics, L2 txs from the devnet's funded keys, and a watcher of L2 blocks.

#![allow(dead_code)] // each test file uses a different part

pub mod chaos_checks;
pub mod fault_proxy;
pub mod forced;
pub mod forced_checks;
pub mod forced_seal;
pub mod landed;
pub mod tcp_proxy;
pub mod traffic;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, Transaction as _, TxEip1559, TxEnvelope},
    eips::{BlockNumberOrTag, Encodable2718},
    network::TxSignerSync,
    primitives::{Address, B256, TxKind, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Log,
    sol_types::SolEvent,
};
use bindings::IRealTimeInbox::ProposedAndProved;
use devnet::{
    accounts::{self, TEST_KEYS},
    network::{DEFAULT_L1_BLOCK_TIME, DEFAULT_PROOF_DELAY_MS, Devnet, L2_CHAIN_ID, Options},
};
use serde_json::Value;
use url::Url;

/// Heartbeat the e2e tests run the node with.
pub const HEARTBEAT: Duration = Duration::from_millis(1000);

/// A devnet and the node under test; dropping it stops both.
pub struct Network {
    pub devnet: Devnet,
    pub node: Child,
    /// The node's environment, for a restart.
    pub env: HashMap<String, String>,
    pub logs: Arc<Mutex<Vec<Value>>>,
    pub metrics_url: String,
    pub l2: DynProvider,
    _dir: tempfile::TempDir,
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = self.node.kill();
        let _ = self.node.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a devnet and a node against it.
pub async fn start(overrides: &[(&str, String)]) -> Network {
    let (devnet, dir) = start_devnet().await;
    spawn_node(devnet, dir, overrides).await
}

/// Starts the devnet and the node as `scripts/devnet up` does: its default L1 block time and
/// proof delay, and the node with the devnet's settings only (no test settings).
pub async fn start_as_devnet_up() -> Network {
    start_as_devnet_up_with(&[]).await
}

/// Like [`start_as_devnet_up`], with `settings` on top of the devnet's.
pub async fn start_as_devnet_up_with(settings: &[(&str, String)]) -> Network {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(&Options {
        l1_block_time: DEFAULT_L1_BLOCK_TIME,
        jwt_path: dir.path().join("jwt.hex"),
        proof_delay: Duration::from_millis(DEFAULT_PROOF_DELAY_MS),
        raiko_api_key: None,
    })
    .await
    .unwrap();
    spawn_node_with(devnet, dir, settings).await
}

/// Starts a devnet (1 s L1 blocks) in a fresh temporary directory.
pub async fn start_devnet() -> (Devnet, tempfile::TempDir) {
    start_devnet_with_slots(1).await
}

/// Starts a devnet whose L1 makes a block every `l1_block_time` seconds.
pub async fn start_devnet_with_slots(l1_block_time: u64) -> (Devnet, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(&Options {
        l1_block_time,
        jwt_path: dir.path().join("jwt.hex"),
        proof_delay: Duration::ZERO,
        raiko_api_key: None,
    })
    .await
    .unwrap();
    (devnet, dir)
}

/// Starts a node whose env is the devnet's plus `overrides` (e.g. a fault proxy's URL in place
/// of a stand-in's). Returns once the batch manager runs.
pub async fn spawn_node(
    devnet: Devnet,
    dir: tempfile::TempDir,
    overrides: &[(&str, String)],
) -> Network {
    // What the tests change from the devnet's node: preconfirm only, a 1 s heartbeat.
    let mut settings = vec![
        ("PRECONF_ONLY", "true".to_string()),
        ("PRECONF_HEARTBEAT_MS", HEARTBEAT.as_millis().to_string()),
    ];
    settings.extend(overrides.iter().cloned());
    spawn_node_with(devnet, dir, &settings).await
}

/// Starts a node whose env is the devnet's node env plus `settings`.
async fn spawn_node_with(
    devnet: Devnet,
    dir: tempfile::TempDir,
    settings: &[(&str, String)],
) -> Network {
    let health_port = free_port();
    let bridge = Url::parse(&format!("http://127.0.0.1:{}", free_port())).unwrap();
    let mut env: HashMap<String, String> = devnet
        .env(&bridge)
        .into_iter()
        .chain(devnet.node_env(&bridge, health_port))
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    env.insert("LOG_FORMAT".into(), "json".into());
    env.insert("RUST_LOG".into(), "info,realtime=debug".into());
    env.insert(
        "DATA_DIR".into(),
        dir.path().join("data").display().to_string(),
    );
    for (k, v) in settings {
        env.insert(k.to_string(), v.clone());
    }
    let logs = Arc::new(Mutex::new(Vec::new()));
    let node = launch(&env, dir.path(), &logs);
    let l2 = ProviderBuilder::new()
        .connect_http(devnet.urls.l2.clone())
        .erased();
    let network = Network {
        devnet,
        node,
        env,
        logs,
        metrics_url: format!("http://127.0.0.1:{health_port}/metrics"),
        l2,
        _dir: dir,
    };
    network
        .wait_for_log(
            |l| message(l) == "batch manager started",
            Duration::from_secs(60),
        )
        .await;
    network
}

/// Starts the node process; its stderr lines (JSON) go to `logs`.
fn launch(
    env: &HashMap<String, String>,
    dir: &std::path::Path,
    logs: &Arc<Mutex<Vec<Value>>>,
) -> Child {
    let mut node = Command::new(env!("CARGO_BIN_EXE_preconfer"))
        .env_clear()
        .envs(env)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = node.stderr.take().unwrap();
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // PRECONFER_TEST_LOG=1 echoes the node's log, to debug a failing e2e test.
            if std::env::var_os("PRECONFER_TEST_LOG").is_some() {
                eprintln!("node: {line}");
            }
            let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
            sink.lock().unwrap().push(value);
        }
    });
    node
}

/// The `message` field of a JSON log line.
pub fn message(line: &Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or_default()
}

impl Network {
    /// Waits until a log line satisfies `ok`; returns it.
    pub async fn wait_for_log(&self, ok: impl Fn(&Value) -> bool, within: Duration) -> Value {
        self.wait_for_log_after(0, ok, within).await
    }

    /// Waits until a log line from index `from` on satisfies `ok`; returns it.
    pub async fn wait_for_log_after(
        &self,
        from: usize,
        ok: impl Fn(&Value) -> bool,
        within: Duration,
    ) -> Value {
        let deadline = Instant::now() + within;
        let mut seen = from;
        loop {
            {
                let logs = self.logs.lock().unwrap();
                if let Some(line) = logs[seen..].iter().find(|l| ok(l)) {
                    return line.clone();
                }
                seen = logs.len();
            }
            if Instant::now() > deadline {
                let logs = self.logs.lock().unwrap();
                let tail: Vec<String> = logs.iter().rev().take(30).map(|l| l.to_string()).collect();
                panic!(
                    "no matching log line within {within:?}; last lines:\n{}",
                    tail.join("\n")
                );
            }
            assert!(
                self.node_alive(),
                "the node exited; logs:\n{:?}",
                self.logs.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs the node and starts it again on the same data directory and environment;
    /// returns once the new process' batch manager runs.
    pub async fn kill9_and_restart(&mut self) {
        let from = self.kill9_and_relaunch();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.logs.lock().unwrap()[from..]
                .iter()
                .any(|l| message(l) == "batch manager started")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted node did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs the node and starts it again on the same data directory and environment,
    /// without waiting for anything; returns where the new process' log lines start.
    pub fn kill9_and_relaunch(&mut self) -> usize {
        self.node.kill().unwrap(); // SIGKILL
        self.node.wait().unwrap();
        self.relaunch()
    }

    /// Starts the node again after it exited; returns where the new process' log lines start.
    fn relaunch(&mut self) -> usize {
        let mut logs = self.logs.lock().unwrap();
        logs.push(Value::String("---- restart ----".into()));
        let from = logs.len();
        drop(logs);
        self.node = launch(&self.env, self._dir.path(), &self.logs);
        from
    }

    /// Stops the node with SIGTERM (as an operator's restart does), waits for it to exit, and
    /// starts it again on the same data and environment; returns where its log lines start.
    pub fn stop_and_relaunch(&mut self) -> usize {
        let pid = self.node.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.node.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the node did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.relaunch()
    }

    /// The node's `surge_*` JSON-RPC URL.
    pub fn surge_url(&self) -> String {
        self.env["BRIDGE_RPC_URL"].clone()
    }

    /// The node's health server base URL.
    pub fn health_url(&self) -> String {
        self.metrics_url.trim_end_matches("/metrics").to_string()
    }

    /// Whether the node process still runs.
    pub fn node_alive(&self) -> bool {
        // `try_wait` needs `&mut`; a signal-0 kill asks the same without reaping.
        Command::new("kill")
            .args(["-0", &self.node.id().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// The node's Prometheus text.
    pub async fn metrics(&self) -> String {
        reqwest::get(&self.metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Sum of a metric's samples whose line contains `filter`.
    pub async fn metric(&self, name: &str, filter: &str) -> f64 {
        self.metrics()
            .await
            .lines()
            .filter(|l| l.starts_with(name) && l.contains(filter))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Sends a signed 1-wei transfer from `key` with `nonce`; returns its hash and the send time.
    pub async fn send_transfer(&self, key: &str, nonce: u64) -> (B256, Instant) {
        send_transfer_on(&self.l2, key, nonce).await
    }

    /// A provider of the devnet's L1.
    pub fn l1(&self) -> DynProvider {
        ProviderBuilder::new()
            .connect_http(self.devnet.urls.l1.clone())
            .erased()
    }

    /// The inbox's `ProposedAndProved` logs so far, in chain order, with each decoded event.
    /// Read from each canonical block's receipts, not `eth_getLogs`: after `evm_revert`, anvil's
    /// log index still serves logs of dropped txs under the numbers they had, and misplaces txs
    /// mined again (seen in full runs: a log whose parent the inbox never had, and a landed
    /// proposal missing from the logs while the next one built on it).
    pub async fn landed_logs(&self) -> Vec<(Log, ProposedAndProved)> {
        let l1 = self.l1();
        let head = l1.get_block_number().await.unwrap();
        let mut out = Vec::new();
        for number in 0..=head {
            let receipts = l1
                .get_block_receipts(number.into())
                .await
                .unwrap()
                .unwrap_or_default();
            for log in receipts.iter().flat_map(|r| r.inner.logs()) {
                if log.address() != self.devnet.contracts.inbox
                    || log.topic0() != Some(&ProposedAndProved::SIGNATURE_HASH)
                {
                    continue;
                }
                let event = ProposedAndProved::decode_log(&log.inner).unwrap().data;
                out.push((log.clone(), event));
            }
        }
        out
    }
}

/// Sends a transfer from `key` every `every` in the background until the returned sender is
/// dropped (or used).
pub fn keep_sending(
    net: &Network,
    key: &'static str,
    every: Duration,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let l2 = net.l2.clone();
    tokio::spawn(async move {
        let from = accounts::address(key);
        let mut nonce = l2.get_transaction_count(from).await.unwrap();
        while matches!(
            stopped.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty)
        ) {
            send_transfer_on(&l2, key, nonce).await;
            nonce += 1;
            tokio::time::sleep(every).await;
        }
    });
    stop
}

/// Polls `fetch` (a status, or `None` while there is none) until the status is final;
/// every distinct status seen, in order.
pub async fn poll_final<F, Fut>(net: &Network, what: &str, within: Duration, fetch: F) -> Vec<Value>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + within;
    let mut seen: Vec<Value> = Vec::new();
    loop {
        if let Some(now) = fetch().await {
            if seen.last() != Some(&now) {
                seen.push(now.clone());
            }
            if matches!(now["status"].as_str(), Some("Executed" | "Rejected")) {
                return seen;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what} not final within {within:?}: {seen:?}"
        );
        assert!(net.node_alive(), "the node exited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `ok` holds, asking every 100 ms; fails the test with `what` after `within`.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut ok: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !ok().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`Network::send_transfer`] on any L2 provider (for background senders).
pub async fn send_transfer_on(l2: &DynProvider, key: &str, nonce: u64) -> (B256, Instant) {
    let tx = TxEip1559 {
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        ..Default::default()
    };
    send_signed_on(l2, key, nonce, tx).await
}

/// Signs `tx` (an L2 EIP-1559 tx: chain id, nonce and fees are set here) with `key` and sends
/// it; its hash and the time it was sent (after signing).
pub async fn send_signed_on(
    l2: &DynProvider,
    key: &str,
    nonce: u64,
    mut tx: TxEip1559,
) -> (B256, Instant) {
    let signer = accounts::signer(key);
    tx.chain_id = L2_CHAIN_ID;
    tx.nonce = nonce;
    tx.max_fee_per_gas = 2_000_000_000;
    tx.max_priority_fee_per_gas = 1;
    let signature = signer.sign_transaction_sync(&mut tx).unwrap();
    let envelope = TxEnvelope::Eip1559(tx.into_signed(signature));
    let raw = envelope.encoded_2718();
    let sent = Instant::now();
    let hash = *l2
        .send_raw_transaction(&raw)
        .await
        .unwrap_or_else(|e| {
            let from = alloy::consensus::transaction::SignerRecoverable::recover_signer(&envelope);
            panic!(
                "sending from {} key {key} (recovers to {from:?}) nonce {nonce}: {e}",
                signer.address()
            )
        })
        .tx_hash();
    (hash, sent)
}

impl Network {
    /// `Bearer <JWT>` for calling the devnet's driver directly.
    pub fn bearer(&self) -> String {
        common::jwt::JwtAuth::from_file(&self.devnet.jwt_path)
            .unwrap()
            .bearer()
    }

    /// The L2 head number.
    pub async fn l2_head(&self) -> u64 {
        self.l2.get_block_number().await.unwrap()
    }

    /// The L2 head as (number, hash): a preconfirmation that must hold later.
    pub async fn l2_head_block(&self) -> (u64, B256) {
        let head = self
            .l2
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header;
        (head.number, head.hash)
    }

    /// The hash of L2 block `number` now (`None`: the L2 has no such block).
    pub async fn l2_hash_at(&self, number: u64) -> Option<B256> {
        self.l2
            .get_block_by_number(number.into())
            .await
            .unwrap()
            .map(|b| b.header.hash)
    }

    /// A JSON-RPC call to the node's `surge_*` server; the whole response object.
    pub async fn surge(&self, method: &str, params: Value) -> Value {
        reqwest::Client::new()
            .post(&self.env["BRIDGE_RPC_URL"])
            .json(
                &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A call to the devnet's Raiko stand-in: GET `path`, or POST `body` to it.
    pub async fn raiko(&self, path: &str, body: Option<Value>) -> Value {
        let url = self.devnet.urls.raiko.join(path).unwrap();
        let client = reqwest::Client::new();
        let request = match body {
            Some(body) => client.post(url).json(&body),
            None => client.get(url),
        };
        request.send().await.unwrap().json().await.unwrap()
    }

    /// Proposals the node saw land (its metric).
    pub async fn landed_total(&self) -> f64 {
        self.metric("preconfer_proposals_landed_total", "").await
    }

    /// The node's `/status` document.
    pub async fn status(&self) -> Value {
        reqwest::get(format!("{}/status", self.health_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The `/status` entry of actor `name`.
    pub async fn actor(&self, name: &str) -> Value {
        let status = self.status().await;
        status["actors"]
            .as_array()
            .and_then(|actors| actors.iter().find(|a| a["name"] == name).cloned())
            .unwrap_or_else(|| panic!("actor {name} is not in /status: {status}"))
    }
}

/// A sender key of the devnet's funded test accounts.
pub fn sender(i: usize) -> &'static str {
    TEST_KEYS[i]
}

/// One L2 block as the watcher saw it.
#[derive(Debug, Clone)]
pub struct SeenBlock {
    pub number: u64,
    pub txs: Vec<(B256, Address, u64, Option<Address>)>,
    pub seen_at: Instant,
}

/// Polls the L2 for new blocks (every 25 ms) from `from` on, until `done` holds or `within`.
pub async fn watch_blocks(
    l2: &DynProvider,
    from: u64,
    within: Duration,
    mut done: impl FnMut(&[SeenBlock]) -> bool,
) -> Vec<SeenBlock> {
    let deadline = Instant::now() + within;
    let mut next = from;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let head = l2.get_block_number().await.unwrap();
        while next <= head {
            let block = l2
                .get_block_by_number(BlockNumberOrTag::Number(next))
                .full()
                .await
                .unwrap()
                .unwrap();
            let txs = block
                .transactions
                .txns()
                .map(|tx| (*tx.inner.tx_hash(), tx.inner.signer(), tx.nonce(), tx.to()))
                .collect();
            seen.push(SeenBlock {
                number: next,
                txs,
                seen_at: Instant::now(),
            });
            next += 1;
        }
        if done(&seen) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    seen
}
