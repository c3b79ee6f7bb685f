//! End to end, cross-chain user ops (L1→L2→L1) on the devnet: a user signs an EIP-712
//! UserOpsSubmitter batch that pings the L2 counter; the counter answers; one L1 multicall runs
//! the op, the propose and the answer. Also rejections and a SIGKILL with ops in flight.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::SignerSync,
    sol_types::{SolCall, SolEvent, SolStruct, eip712_domain},
};
use bindings::{IBridge, IMulticall, IRealTimeInbox, IUserOpsSubmitter, UserOp, doubles};
use devnet::{
    accounts::{self, TEST_KEYS},
    network::L1_CHAIN_ID,
};
use serde_json::{Value, json};
use support::{Network, message};

alloy::sol! {
    /// The EIP-712 type the UserOpsSubmitter verifies (protocol.md §8).
    struct ExecuteBatch { UserOp[] ops; }
}

/// One devnet per test at a time: they run many processes on 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn l1(net: &Network) -> DynProvider {
    ProviderBuilder::new()
        .connect_http(net.devnet.urls.l1.clone())
        .erased()
}

async fn start() -> Network {
    let net = support::start(&[("PRECONF_ONLY", "false".into())]).await;
    net.wait_for_log(
        |l| message(l) == "user-op simulations ready",
        Duration::from_secs(30),
    )
    .await;
    net
}

/// A JSON-RPC call to the node's surge_* server; the whole response object.
async fn surge(net: &Network, method: &str, params: Value) -> Value {
    let url = &net.env["BRIDGE_RPC_URL"];
    reqwest::Client::new()
        .post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `executeBatch(ops, sig)` calldata for ops signed with EIP-712 by the submitter's owner;
/// checks the local digest against the contract's.
async fn signed_batch(net: &Network, ops: Vec<UserOp>) -> Bytes {
    let submitter = net.devnet.contracts.user_ops_submitter;
    let domain = eip712_domain! {
        name: "UserOpsSubmitter",
        version: "1",
        chain_id: L1_CHAIN_ID,
        verifying_contract: submitter,
    };
    let batch = ExecuteBatch { ops: ops.clone() };
    let digest = batch.eip712_signing_hash(&domain);
    let on_chain = IUserOpsSubmitter::new(submitter, l1(net))
        .getDigest(ops.clone())
        .call()
        .await
        .unwrap();
    assert_eq!(digest, on_chain, "the EIP-712 digest is the contract's");
    let signature = accounts::signer(TEST_KEYS[0])
        .sign_hash_sync(&digest)
        .unwrap();
    IUserOpsSubmitter::executeBatchCall {
        _ops: ops,
        _signature: signature.as_bytes().to_vec().into(),
    }
    .abi_encode()
    .into()
}

fn ping(net: &Network, amount: u64) -> UserOp {
    UserOp {
        target: net.devnet.contracts.ping_l1,
        value: U256::ZERO,
        data: doubles::PingL1::pingCall {
            _amount: U256::from(amount),
        }
        .abi_encode()
        .into(),
    }
}

async fn send_op(net: &Network, calldata: Bytes) -> u64 {
    let response = surge(
        net,
        "surge_sendUserOp",
        json!({"submitter": net.devnet.contracts.user_ops_submitter, "calldata": calldata}),
    )
    .await;
    response["result"]
        .as_u64()
        .unwrap_or_else(|| panic!("no id: {response}"))
}

async fn status(net: &Network, id: u64) -> Value {
    let response = surge(net, "surge_txStatus", json!({"userOpId": id})).await;
    response
        .get("result")
        .cloned()
        .unwrap_or_else(|| panic!("no status for {id}: {response}"))
}

/// Polls until the op's status is final; returns every distinct status seen, in order.
async fn until_final(net: &Network, id: u64, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let mut seen: Vec<Value> = Vec::new();
    loop {
        let now = status(net, id).await;
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if matches!(now["status"].as_str(), Some("Executed" | "Rejected")) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "op {id} not final within {within:?}: {seen:?}"
        );
        assert!(net.node_alive(), "the node exited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until the op's status is `want`.
async fn until_status(net: &Network, id: u64, want: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let now = status(net, id).await;
        if now["status"] == want {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "op {id} not {want} within {within:?}: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ping_answers(net: &Network) -> (U256, U256) {
    let ping = doubles::PingL1::new(net.devnet.contracts.ping_l1, l1(net));
    (
        ping.answers().call().await.unwrap(),
        ping.lastAnswer().call().await.unwrap(),
    )
}

#[tokio::test]
async fn a_signed_user_op_pings_l2_and_the_answer_lands_on_l1_in_the_same_multicall() {
    let _serial = SERIAL.lock().await;
    let net = start().await;
    let calldata = signed_batch(&net, vec![ping(&net, 5)]).await;
    let id = send_op(&net, calldata.clone()).await;
    let seen = until_final(&net, id, Duration::from_secs(90)).await;
    println!("RESULT e2e user_op statuses={seen:?}");
    assert_eq!(seen.last().unwrap()["status"], "Executed", "{seen:?}");
    let names: Vec<&str> = seen.iter().filter_map(|s| s["status"].as_str()).collect();
    assert!(
        names.windows(2).all(|w| w[0] != "Executed"),
        "statuses only move forward: {names:?}"
    );
    let block_id = seen
        .iter()
        .find_map(|s| s["block_id"].as_u64())
        .expect("the op was ProvingBlock on its way");

    // The L1 effect: PingL1 heard the counter's answer (5), in the same L1 tx as the op.
    assert_eq!(ping_answers(&net).await, (U256::from(1), U256::from(5)));
    let counter = doubles::CounterL2::new(net.devnet.contracts.counter_l2, net.l2.clone());
    assert_eq!(counter.total().call().await.unwrap(), U256::from(5));

    // The multicall: [user op, propose, processMessage], in the tx that landed the proposal
    // ending at the op's block (Processing names the first tx sent; a fee bump replaces it).
    let c = net.devnet.contracts;
    let logs = l1(&net)
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(c.inbox)
                .event_signature(IRealTimeInbox::ProposedAndProved::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    let landed = logs
        .iter()
        .find(|log| {
            IRealTimeInbox::ProposedAndProved::decode_log(&log.inner)
                .is_ok_and(|e| e.checkpoint.blockNumber.to::<u64>() == block_id)
        })
        .expect("the op's proposal landed");
    let tx_hash = landed.transaction_hash.unwrap();
    let tx = l1(&net)
        .get_transaction_by_hash(tx_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tx.to(), Some(c.multicall));
    let calls = IMulticall::multicallCall::abi_decode(tx.input())
        .unwrap()
        .calls;
    let shape: Vec<(Address, [u8; 4])> = calls
        .iter()
        .map(|call| (call.target, call.data[..4].try_into().unwrap()))
        .collect();
    assert_eq!(
        shape,
        vec![
            (
                c.user_ops_submitter,
                IUserOpsSubmitter::executeBatchCall::SELECTOR
            ),
            (c.inbox, IRealTimeInbox::proposeCall::SELECTOR),
            (c.l1_bridge, IBridge::processMessageCall::SELECTOR),
        ],
        "user op, propose, processMessage"
    );
    assert_eq!(calls[0].data, calldata);
    let receipt = l1(&net)
        .get_transaction_receipt(tx_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(receipt.status());
    println!(
        "RESULT e2e user_op executed id={id} l1_tx={tx_hash} calls={} l1_gas={}",
        calls.len(),
        receipt.gas_used
    );
}

#[tokio::test]
async fn reverting_and_messageless_ops_are_rejected_with_a_reason_and_blocks_go_on() {
    let _serial = SERIAL.lock().await;
    let net = start().await;
    // Signed by the wrong key: executeBatch reverts INVALID_SIGNATURE.
    let good = signed_batch(&net, vec![ping(&net, 1)]).await;
    let mut forged = IUserOpsSubmitter::executeBatchCall::abi_decode(&good).unwrap();
    forged._signature = accounts::signer(TEST_KEYS[1])
        .sign_hash_sync(&B256::repeat_byte(7))
        .unwrap()
        .as_bytes()
        .to_vec()
        .into();
    let reverting = send_op(&net, forged.abi_encode().into()).await;
    // A valid batch with no ops: runs, sends nothing.
    let empty = send_op(&net, signed_batch(&net, vec![]).await).await;
    assert!(empty > reverting, "ids rise");

    for (id, expect) in [(reverting, "reverts on L1"), (empty, "no bridge message")] {
        let seen = until_final(&net, id, Duration::from_secs(30)).await;
        let last = seen.last().unwrap();
        assert_eq!(last["status"], "Rejected", "{seen:?}");
        let reason = last["reason"].as_str().unwrap();
        assert!(reason.contains(expect), "{reason}");
        println!("RESULT e2e user_op rejected id={id} reason={reason:?}");
    }
    let unknown = surge(&net, "surge_userOpStatus", json!([empty + 1000])).await;
    assert_eq!(unknown["error"]["code"], -32001, "{unknown}");

    // Blocks keep coming: a transfer sent now is preconfirmed.
    let head = net.l2_head().await;
    let (hash, _) = net.send_transfer(TEST_KEYS[2], 0).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while net
        .l2
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .is_none()
    {
        assert!(Instant::now() < deadline, "no block after rejected ops");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(net.l2_head().await > head);
}

#[tokio::test]
async fn ops_in_flight_survive_a_sigkill_and_all_reach_a_final_status() {
    let _serial = SERIAL.lock().await;
    let mut net = start().await;
    let raiko = net.env["RAIKO_URL"].clone();
    let config = |ms: u64| {
        let url = format!("{raiko}/devnet/config");
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&json!({"proof_delay_ms": ms}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    // Slow proofs hold the first op in ProvingBlock; the second waits Pending behind it.
    config(60_000).await;
    let first = send_op(&net, signed_batch(&net, vec![ping(&net, 2)]).await).await;
    until_status(&net, first, "ProvingBlock", Duration::from_secs(30)).await;
    let second = send_op(&net, signed_batch(&net, vec![ping(&net, 3)]).await).await;
    let second_before = status(&net, second).await;
    assert_eq!(second_before["status"], "Pending", "{second_before}");

    net.kill9_and_restart().await;
    config(0).await;
    net.wait_for_log(
        |l| message(l) == "user-op simulations ready",
        Duration::from_secs(30),
    )
    .await;
    // The same ids answer after the restart, and a new op gets a new id.
    assert!(status(&net, first).await["status"].is_string());
    assert!(status(&net, second).await["status"].is_string());
    let third = send_op(&net, signed_batch(&net, vec![ping(&net, 4)]).await).await;
    assert!(
        third > second,
        "ids are not reused after a restart: {third} after {second}"
    );

    let mut finals = Vec::new();
    for id in [first, second, third] {
        let seen = until_final(&net, id, Duration::from_secs(120)).await;
        finals.push(seen.last().unwrap().clone());
    }
    println!("RESULT e2e user_op restart ids={first},{second},{third} finals={finals:?}");
    for f in &finals {
        assert_eq!(f["status"], "Executed", "{finals:?}");
    }
    assert_eq!(
        ping_answers(&net).await.0,
        U256::from(3),
        "each op ran exactly once"
    );
}
