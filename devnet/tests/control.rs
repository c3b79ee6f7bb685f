//! `devnet up|status|down` as a user runs them: up writes a sourceable env file with every
//! variable the issue lists, a second up says it is running, down leaves no process behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::process::Command;

use devnet::control::{self, StateDir};

fn devnet(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_devnet"))
        .arg("--state-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const REQUIRED: [&str; 26] = [
    "L1_RPC_URL",
    "L2_RPC_URL",
    "L2_AUTH_RPC_URL",
    "L2_DRIVER_URL",
    "RAIKO_URL",
    "BRIDGE_RPC_URL",
    "L1_BEACON_URL",
    "L1_CHAIN_ID",
    "L2_CHAIN_ID",
    "REALTIME_INBOX_ADDRESS",
    "PROPOSER_MULTICALL_ADDRESS",
    "L1_BRIDGE_ADDRESS",
    "L2_BRIDGE_ADDRESS",
    "L1_SIGNAL_SERVICE_ADDRESS",
    "L2_SIGNAL_SERVICE_ADDRESS",
    "ANCHOR_ADDRESS",
    "PING_L1_ADDRESS",
    "COUNTER_L2_ADDRESS",
    "SWAP_MARKET_L1_ADDRESS",
    "FLASH_SWAP_L2_ADDRESS",
    "TICKETS_L1_ADDRESS",
    "TICKETS_L2_ADDRESS",
    "USER_OPS_SUBMITTER_ADDRESS",
    "JWT_SECRET_FILE_PATH",
    "TEST_PRIVATE_KEYS",
    "L2_GENESIS_HASH",
];

#[test]
fn up_status_down_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let state = StateDir::new(dir.clone());

    let (ok, out) = devnet(&dir, &["up", "--proof-delay-ms=0"]);
    assert!(ok, "{out}");
    assert!(out.contains("devnet is up"), "{out}");
    let env = control::read_env(&state);
    for key in REQUIRED {
        let value = env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        assert!(
            value.is_some_and(|v| !v.is_empty()),
            "{key} missing from the env file"
        );
    }
    // The env file is sourceable and its URLs answer.
    let l1 = env
        .iter()
        .find(|(k, _)| k == "L1_RPC_URL")
        .unwrap()
        .1
        .clone();
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". '{}' && curl -sf -X POST -H 'content-type: application/json' \"$L1_RPC_URL\" -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":[]}}'",
            state.env().display()
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&sourced.stdout).contains("0x7a69"),
        "{l1}: {sourced:?}"
    );

    let (ok, out) = devnet(&dir, &["up"]);
    assert!(ok && out.contains("already running"), "{out}");
    let (ok, out) = devnet(&dir, &["status"]);
    assert!(ok && out.contains("devnet is running"), "{out}");

    let started = control::read_pids(&state);
    assert_eq!(started.len(), 3, "devnet and two anvils: {started:?}");
    assert!(started.iter().all(control::alive));
    let (ok, out) = devnet(&dir, &["down"]);
    assert!(ok && out.contains("devnet stopped"), "{out}");
    let left: Vec<_> = started.iter().filter(|s| control::alive(s)).collect();
    assert!(left.is_empty(), "still running after down: {left:?}");
    assert!(!state.env().exists() && !state.pids().exists());
    let (_, out) = devnet(&dir, &["status"]);
    assert!(out.contains("not running"), "{out}");
}
