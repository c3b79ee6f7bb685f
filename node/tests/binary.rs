//! The `preconfer` binary as an operator runs it: help, configuration errors, health endpoints,
//! fork waiting and signal handling. Each test runs the real process in its own directory with a
//! clean environment and waits on observable conditions, never on fixed sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use devnet::anvil::{Anvil, AnvilOptions};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_preconfer");
const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const INBOX: &str = "0x00000000000000000000000000000000000000aa";

fn command(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().current_dir(dir).envs(env.iter().copied());
    cmd
}

fn run_to_end(env: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    command(dir.path(), env).args(args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_every_variable_with_its_default() {
    let output = run_to_end(&[], &["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let vars = node::cli::env_vars();
    assert!(vars.len() >= 20, "{vars:?}");
    for var in &vars {
        assert!(
            help.contains(&format!("[env: {var}]")),
            "--help misses {var}"
        );
    }
    for default in [
        "[default: 2000]",
        "[default: 127.0.0.1]",
        "[default: 9898]",
        "[default: 99999999999]",
    ] {
        assert!(help.contains(default), "--help misses {default}");
    }
}

#[test]
fn an_invalid_heartbeat_exits_2_naming_the_variable_and_the_expectation() {
    let output = run_to_end(&[("PRECONF_HEARTBEAT_MS", "abc")], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("PRECONF_HEARTBEAT_MS"), "{err}");
    assert!(err.contains("'abc'"), "{err}");
    assert!(err.contains("whole number of milliseconds"), "{err}");
}

#[test]
fn a_dotenv_file_in_the_working_directory_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "PRECONF_HEARTBEAT_MS=abc\n").unwrap();
    let output = command(dir.path(), &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("PRECONF_HEARTBEAT_MS"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_key_exits_2_and_a_bad_key_is_never_echoed() {
    let output = run_to_end(&[("REALTIME_INBOX_ADDRESS", INBOX)], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("CATALYST_NODE_ECDSA_PRIVATE_KEY is not set"));

    let secret = "0xfeedfacecafebeefdeadbeef";
    let output = run_to_end(
        &[
            ("REALTIME_INBOX_ADDRESS", INBOX),
            ("CATALYST_NODE_ECDSA_PRIVATE_KEY", secret),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("invalid CATALYST_NODE_ECDSA_PRIVATE_KEY=<redacted"),
        "{err}"
    );
    assert!(!err.contains("feedface"), "the secret leaked: {err}");
}

#[test]
fn an_unimplemented_fork_scheduled_before_realtime_exits_2() {
    let output = run_to_end(
        &[
            ("CATALYST_NODE_ECDSA_PRIVATE_KEY", KEY),
            ("REALTIME_INBOX_ADDRESS", INBOX),
            ("SHASTA_TIMESTAMP_SEC", "0"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("SHASTA_TIMESTAMP_SEC=0"),
        "{}",
        stderr(&output)
    );
}

/// A running node with its log lines streamed to the test.
struct RunningNode {
    child: Child,
    base: String,
    logs: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl RunningNode {
    fn start(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let jwt = dir.path().join("jwt.hex");
        std::fs::write(&jwt, "0x".to_string() + &"ab".repeat(32)).unwrap();
        let jwt = jwt.display().to_string();
        let mut env = vec![
            ("JWT_SECRET_FILE_PATH", jwt.as_str()),
            ("CATALYST_NODE_ECDSA_PRIVATE_KEY", KEY),
            ("REALTIME_INBOX_ADDRESS", INBOX),
            ("INTERNAL_SERVER_PORT", "0"),
            ("L2_RPC_URL", "http://127.0.0.1:2"),
            ("LOG_FORMAT", "json"),
        ];
        env.extend_from_slice(extra);
        let mut child = command(dir.path(), &env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, logs) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let listening = wait_for_log(&logs, "metrics and health server listening");
        let line: Value = serde_json::from_str(&listening).unwrap();
        let addr = line["fields"]["local_addr"].as_str().unwrap().to_string();
        Self {
            child,
            base: format!("http://{addr}"),
            logs,
            _dir: dir,
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::blocking::get(format!("{}{path}", self.base)).unwrap();
        let code = response.status().as_u16();
        (code, response.json().unwrap_or(Value::Null))
    }

    /// Polls `path` until `ok` holds for its answer; returns that answer.
    fn wait_until(&self, path: &str, ok: impl Fn(u16, &Value) -> bool) -> (u16, Value) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (code, body) = self.get(path);
            if ok(code, &body) {
                return (code, body);
            }
            assert!(
                Instant::now() < deadline,
                "{path} never satisfied the condition; last: {code} {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and returns the exit code and how long the exit took.
    fn terminate(mut self) -> (Option<i32>, Duration) {
        let sent = Instant::now();
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = sent + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), sent.elapsed());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("preconfer ignored SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn wait_for_log(logs: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match logs.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => continue,
            Err(e) => panic!("no log line containing {needle:?}: {e}"),
        }
    }
}

#[test]
fn with_l1_unreachable_the_node_stays_alive_not_ready_retries_and_stops_on_sigterm() {
    let node = RunningNode::start(&[
        ("REALTIME_TIMESTAMP_SEC", "0"),
        ("L1_RPC_URLS", "http://127.0.0.1:1"),
        ("PRECONF_HEARTBEAT_MS", "200"),
    ]);
    let (code, _) = node.get("/healthz");
    assert_eq!(code, 200);

    // Several failed polls, spaced by a backoff, while the monitor actor itself never restarts.
    let (_, status) = node.wait_until("/status", |_, s| {
        s["l1"]["consecutive_failures"].as_u64().unwrap_or(0) >= 3
    });
    assert_eq!(status["actors"][0]["name"], "chain_monitor");
    assert_eq!(status["actors"][0]["state"], "running");
    assert_eq!(status["actors"][0]["restarts"], 0);
    assert_eq!(status["fork"]["active"], true);
    let retries: Vec<u64> = std::iter::from_fn(|| node.logs.try_recv().ok())
        .filter(|l| l.contains("retrying with backoff") && l.contains("\"l1\""))
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter_map(|l| l["fields"]["retry_in_ms"].as_u64())
        .collect();
    assert!(
        retries.len() >= 2 && retries.last() > retries.first(),
        "no growing backoff: {retries:?}"
    );

    let (code, ready) = node.get("/readyz");
    assert_eq!(code, 503);
    assert_eq!(ready["ready"], false);
    let reasons = ready["reasons"].to_string();
    assert!(
        reasons.contains("L1 endpoint http://127.0.0.1:1 has not answered"),
        "{reasons}"
    );

    let (_, metrics) = (
        0,
        reqwest::blocking::get(format!("{}/metrics", node.base))
            .unwrap()
            .text()
            .unwrap(),
    );
    assert!(
        metrics.contains("preconfer_rpc_poll_failures_total{endpoint=\"l1\"}"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .all(|l| l.starts_with("preconfer_"))
    );

    let (code, took) = node.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
}

#[test]
fn a_future_fork_is_waited_for_without_running_actors_and_sigterm_still_exits_0() {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3_600;
    let node = RunningNode::start(&[("REALTIME_TIMESTAMP_SEC", &at.to_string())]);
    let (code, ready) = node.get("/readyz");
    assert_eq!(code, 503);
    assert!(
        ready["reasons"][0]
            .as_str()
            .unwrap()
            .contains(&format!("activates at {at}"))
    );
    let (_, status) = node.get("/status");
    assert_eq!(status["phase"], "waiting_for_fork");
    assert_eq!(status["actors"], Value::Array(vec![]));
    let (code, _) = node.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn the_realtime_node_starts_when_its_fork_activates() {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let node = RunningNode::start(&[("REALTIME_TIMESTAMP_SEC", &at.to_string())]);
    wait_for_log(&node.logs, "waiting for the realtime fork to activate");
    let (_, status) = node.wait_until("/status", |_, s| s["phase"] == "running");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now >= at, "started before activation");
    assert_eq!(status["actors"][0]["name"], "chain_monitor");
    let (code, _) = node.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn with_both_chains_answering_the_node_becomes_ready() {
    let l1 = Anvil::start(&AnvilOptions::default()).unwrap();
    let l2 = Anvil::start(&AnvilOptions::default()).unwrap();
    let node = RunningNode::start(&[
        ("REALTIME_TIMESTAMP_SEC", "0"),
        ("L1_RPC_URLS", l1.url.as_str()),
        ("L2_RPC_URL", l2.url.as_str()),
        ("PRECONF_HEARTBEAT_MS", "200"),
    ]);
    let (_, ready) = node.wait_until("/readyz", |code, _| code == 200);
    assert_eq!(ready["ready"], true);
    let (_, status) = node.get("/status");
    assert_eq!(status["l1"]["head"], 0);
    assert_eq!(status["l2"]["head"], 0);
    // No inbox is deployed on this bare chain: the node says so instead of inventing a head.
    assert!(
        status["finality_error"]
            .as_str()
            .unwrap()
            .contains("getLastFinalizedBlockHash")
    );
    let (code, _) = node.terminate();
    assert_eq!(code, Some(0));
}
