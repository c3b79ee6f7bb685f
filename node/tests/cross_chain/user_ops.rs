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
use doubles::FlashSwapL2::Message;
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

/// The hash and Multicall calls of the L1 tx that landed the proposal ending at `block_id`
/// (Processing names the first tx sent; a fee bump may have replaced it).
async fn landed_calls(net: &Network, block_id: u64) -> (B256, Vec<bindings::Call>) {
    let c = net.devnet.contracts;
    let logs = l1(net)
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
        .unwrap_or_else(|| panic!("no proposal ending at L2 block {block_id} landed"));
    let tx_hash = landed.transaction_hash.unwrap();
    let tx = l1(net)
        .get_transaction_by_hash(tx_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tx.to(), Some(c.multicall));
    let calls = IMulticall::multicallCall::abi_decode(tx.input())
        .unwrap()
        .calls;
    (tx_hash, calls)
}

/// (target, selector) of each call.
fn shape_of(calls: &[bindings::Call]) -> Vec<(Address, [u8; 4])> {
    calls
        .iter()
        .map(|call| (call.target, call.data[..4].try_into().unwrap()))
        .collect()
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
    let (tx_hash, calls) = landed_calls(&net, block_id).await;
    let shape = shape_of(&calls);
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
    // Slow proofs hold the first op in ProvingBlock; the second waits Pending behind it.
    raiko_delay(&net, 60_000).await;
    let first = send_op(&net, signed_batch(&net, vec![ping(&net, 2)]).await).await;
    until_status(&net, first, "ProvingBlock", Duration::from_secs(30)).await;
    let second = send_op(&net, signed_batch(&net, vec![ping(&net, 3)]).await).await;
    let second_before = status(&net, second).await;
    assert_eq!(second_before["status"], "Pending", "{second_before}");

    net.kill9_and_restart().await;
    raiko_delay(&net, 0).await;
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

/// Sets the devnet Raiko's proof delay.
async fn raiko_delay(net: &Network, ms: u64) {
    let url = format!("{}/devnet/config", net.env["RAIKO_URL"]);
    let r = reqwest::Client::new()
        .post(url)
        .json(&json!({"proof_delay_ms": ms}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// A returned message, as the surge_simulateReturnMessage JSON gives it.
fn message_from_json(v: &Value) -> Message {
    let address = |k: &str| v[k].as_str().unwrap().parse::<Address>().unwrap();
    Message {
        id: v["id"].as_u64().unwrap(),
        fee: v["fee"].as_u64().unwrap(),
        gasLimit: v["gasLimit"].as_u64().unwrap() as u32,
        from: address("from"),
        srcChainId: v["srcChainId"].as_u64().unwrap(),
        srcOwner: address("srcOwner"),
        destChainId: v["destChainId"].as_u64().unwrap(),
        destOwner: address("destOwner"),
        to: address("to"),
        value: v["value"].as_str().unwrap().parse().unwrap(),
        data: v["data"].as_str().unwrap().parse().unwrap(),
    }
}

/// The placeholder answer a user builds the tx with before asking for the real one.
fn blank() -> Message {
    message_from_json(
        &json!({"id": 0, "fee": 0, "gasLimit": 0, "from": Address::ZERO,
        "srcChainId": 0, "srcOwner": Address::ZERO, "destChainId": 0, "destOwner": Address::ZERO,
        "to": Address::ZERO, "value": "0", "data": "0x"}),
    )
}

/// The answers L1 would send to `data` called on the FlashSwapL2 by `from`, per the node.
async fn simulate_return(net: &Network, from: Address, data: &Bytes) -> Vec<Message> {
    let response = surge(
        net,
        "surge_simulateReturnMessage",
        json!([{"from": from, "to": net.devnet.contracts.flash_swap_l2, "data": data, "value": "0"}]),
    )
    .await;
    let result = response
        .get("result")
        .unwrap_or_else(|| panic!("no answer: {response}"));
    assert_eq!(result["message"], result["messages"][0]["message"]);
    result["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| message_from_json(&m["message"]))
        .collect()
}

fn swap_call(amount: u64, recipient: Address, answer: Message) -> Bytes {
    doubles::FlashSwapL2::swapViaL1Call {
        _amountIn: U256::from(amount),
        _recipient: recipient,
        _returnMessage: answer,
    }
    .abi_encode()
    .into()
}

/// Signs and sends an L2 tx from `key` to the FlashSwapL2 (explicit gas: estimation fails
/// before the answer's fast signal exists); returns its hash.
async fn send_l2(net: &Network, key: &str, data: Bytes) -> B256 {
    let signer = accounts::signer(key);
    let wallet = alloy::network::EthereumWallet::from(signer);
    let provider = ProviderBuilder::new()
        .wallet(wallet)
        .connect_http(net.devnet.urls.l2.clone());
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(net.devnet.contracts.flash_swap_l2)
        .input(data.into())
        .gas_limit(6_000_000);
    *provider.send_transaction(tx).await.unwrap().tx_hash()
}

/// The node's own log lines (above TRACE), for the report of a failed check.
fn print_node_logs(net: &Network) {
    for l in net.logs.lock().unwrap().iter() {
        let ours = l["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("realtime"));
        if ours && l["level"] != "TRACE" {
            eprintln!("LOG {l}");
        }
    }
}

/// The L2 block of a tx once it is preconfirmed; panics if it reverted.
async fn preconfirmed(net: &Network, hash: B256, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(receipt) = net.l2.get_transaction_receipt(hash).await.unwrap() {
            if !receipt.status() {
                print_node_logs(net);
            }
            assert!(receipt.status(), "L2 tx {hash} reverted");
            return receipt.block_number.unwrap();
        }
        if Instant::now() >= deadline {
            print_node_logs(net);
            panic!("L2 tx {hash} not preconfirmed");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls surge_txStatus {txHash} until final; every distinct status seen.
async fn tx_until_final(net: &Network, hash: B256, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let mut seen: Vec<Value> = Vec::new();
    loop {
        let response = surge(net, "surge_txStatus", json!({"txHash": hash})).await;
        if let Some(now) = response.get("result").cloned() {
            if seen.last() != Some(&now) {
                seen.push(now.clone());
            }
            if matches!(now["status"].as_str(), Some("Executed" | "Rejected")) {
                return seen;
            }
        }
        assert!(
            Instant::now() < deadline,
            "tx {hash} not final within {within:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn deferred(c: &devnet::deploy::Contracts, processed: usize) -> Vec<(Address, [u8; 4])> {
    std::iter::once((c.inbox, IRealTimeInbox::tentativeProposeCall::SELECTOR))
        .chain(std::iter::repeat_n(
            (c.l1_bridge, IBridge::processMessageCall::SELECTOR),
            processed,
        ))
        .chain([(c.inbox, IRealTimeInbox::finalizeProposeCall::SELECTOR)])
        .collect()
}

#[tokio::test]
async fn l2_calls_that_consume_l1_answers_land_with_their_answers_in_one_l1_tx() {
    let _serial = SERIAL.lock().await;
    let net = start().await;
    let c = net.devnet.contracts;
    let swap = doubles::FlashSwapL2::new(c.flash_swap_l2, net.l2.clone());
    let market = doubles::SwapMarketL1::new(c.swap_market_l1, l1(&net));
    let user = accounts::address(TEST_KEYS[1]);
    let recipient = Address::repeat_byte(0x77);

    // 1. The demo: ask for the answer, build the tx with it, send it to L2.
    let placeholder = swap_call(7, recipient, blank());
    let answer = simulate_return(&net, user, &placeholder).await.remove(0);
    let hash = send_l2(&net, TEST_KEYS[1], swap_call(7, recipient, answer)).await;
    let block = preconfirmed(&net, hash, Duration::from_secs(30)).await;
    let seen = tx_until_final(&net, hash, Duration::from_secs(90)).await;
    println!("RESULT e2e l2_l1_l2 statuses={seen:?}");
    assert_eq!(seen.last().unwrap()["status"], "Executed", "{seen:?}");
    assert_eq!(
        swap.balanceOf(recipient).call().await.unwrap(),
        U256::from(14)
    );
    assert_eq!(market.filled().call().await.unwrap(), U256::from(1));
    let (l1_tx, calls) = landed_calls(&net, block).await;
    assert_eq!(
        shape_of(&calls),
        deferred(&c, 1),
        "[tentativePropose, processMessage, finalizePropose]"
    );
    println!(
        "RESULT e2e l2_l1_l2 demo block={block} l1_tx={l1_tx} calls={}",
        calls.len()
    );

    // 2. One tx that sends two messages and consumes both answers.
    let two = |a: Message, b: Message| -> Bytes {
        doubles::FlashSwapL2::swapTwiceViaL1Call {
            _amountA: U256::from(1),
            _amountB: U256::from(2),
            _recipient: recipient,
            _returnA: a,
            _returnB: b,
        }
        .abi_encode()
        .into()
    };
    let answers = simulate_return(&net, user, &two(blank(), blank())).await;
    assert_eq!(answers.len(), 2, "one answer per message");
    assert_eq!(answers[1].id, answers[0].id + 1);
    let hash = send_l2(
        &net,
        TEST_KEYS[1],
        two(answers[0].clone(), answers[1].clone()),
    )
    .await;
    let block = preconfirmed(&net, hash, Duration::from_secs(30)).await;
    let seen = tx_until_final(&net, hash, Duration::from_secs(90)).await;
    assert_eq!(seen.last().unwrap()["status"], "Executed", "{seen:?}");
    assert_eq!(
        swap.balanceOf(recipient).call().await.unwrap(),
        U256::from(14 + 2 + 4)
    );
    let (_, calls) = landed_calls(&net, block).await;
    assert_eq!(shape_of(&calls), deferred(&c, 2));

    // 3. Two such txs in consecutive blocks: the second answer is numbered after the first.
    let first = simulate_return(&net, user, &placeholder).await.remove(0);
    let mut second = first.clone();
    second.id += 1;
    let a = send_l2(&net, TEST_KEYS[1], swap_call(7, recipient, first)).await;
    let block_a = preconfirmed(&net, a, Duration::from_secs(30)).await;
    let b = send_l2(&net, TEST_KEYS[2], swap_call(7, recipient, second)).await;
    let block_b = preconfirmed(&net, b, Duration::from_secs(60)).await;
    for hash in [a, b] {
        let seen = tx_until_final(&net, hash, Duration::from_secs(90)).await;
        assert_eq!(seen.last().unwrap()["status"], "Executed", "{seen:?}");
    }
    println!("RESULT e2e l2_l1_l2 consecutive blocks={block_a},{block_b}");
    assert_eq!(
        block_b,
        block_a + 1,
        "the second waits for the first to land, then comes next"
    );

    // 4. A user op (L1→L2→L1) and an L2→L1→L2 tx in one proposal: the answer's id counts the
    // op's deposit, which runs first in the multicall. The tx waits in the pool for the op.
    let mut answer = simulate_return(&net, user, &placeholder).await.remove(0);
    answer.id += 1;
    let hash = send_l2(&net, TEST_KEYS[1], swap_call(7, recipient, answer)).await;
    let id = send_op(&net, signed_batch(&net, vec![ping(&net, 3)]).await).await;
    let block = preconfirmed(&net, hash, Duration::from_secs(30)).await;
    let op_seen = until_final(&net, id, Duration::from_secs(90)).await;
    let tx_seen = tx_until_final(&net, hash, Duration::from_secs(90)).await;
    assert_eq!(op_seen.last().unwrap()["status"], "Executed", "{op_seen:?}");
    assert_eq!(tx_seen.last().unwrap()["status"], "Executed", "{tx_seen:?}");
    assert!(
        op_seen
            .iter()
            .any(|s| s["block_id"].as_u64() == Some(block)),
        "the op and the tx share block {block}: {op_seen:?}"
    );
    let (_, calls) = landed_calls(&net, block).await;
    let mut want = vec![(
        c.user_ops_submitter,
        IUserOpsSubmitter::executeBatchCall::SELECTOR,
    )];
    want.extend(deferred(&c, 2));
    assert_eq!(
        shape_of(&calls),
        want,
        "[op, tentativePropose, swap's L1 call, ping's answer, finalizePropose]"
    );
    println!(
        "RESULT e2e l2_l1_l2 with_user_op block={block} calls={}",
        calls.len()
    );

    // 5. Drift: L1's answer changes after the block was built. The proposal is dropped, the
    // L2 reorged, the tx Rejected with the reason, and later proposals land.
    raiko_delay(&net, 6_000).await;
    let placeholder = swap_call(5, recipient, blank());
    let answer = simulate_return(&net, user, &placeholder).await.remove(0);
    let hash = send_l2(&net, TEST_KEYS[1], swap_call(5, recipient, answer)).await;
    let block = preconfirmed(&net, hash, Duration::from_secs(30)).await;
    let owner = ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(accounts::signer(
            accounts::OWNER_KEY,
        )))
        .connect_http(net.devnet.urls.l1.clone());
    doubles::SwapMarketL1::new(c.swap_market_l1, owner)
        .setRate(U256::from(3))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let seen = tx_until_final(&net, hash, Duration::from_secs(90)).await;
    raiko_delay(&net, 0).await;
    let last = seen.last().unwrap();
    println!("RESULT e2e l2_l1_l2 drift statuses={seen:?}");
    assert_eq!(last["status"], "Rejected", "{seen:?}");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("RequiredSignalNotSent"),
        "{last}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while net
        .l2
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .is_some()
    {
        assert!(
            Instant::now() < deadline,
            "the L2 block {block} with the tx was not reorged away"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answer = simulate_return(&net, user, &placeholder).await.remove(0);
    let hash = send_l2(&net, TEST_KEYS[3], swap_call(5, recipient, answer)).await;
    preconfirmed(&net, hash, Duration::from_secs(30)).await;
    let seen = tx_until_final(&net, hash, Duration::from_secs(90)).await;
    assert_eq!(
        seen.last().unwrap()["status"],
        "Executed",
        "after the drift: {seen:?}"
    );
}
