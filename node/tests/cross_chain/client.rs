//! What an outside client of the node does: `surge_*` calls used exactly as they answer,
//! signed user-op batches, L2 txs to the demo apps, and waits for a status or a chain state.

use std::time::{Duration, Instant};

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    signers::SignerSync,
    sol_types::{SolCall, SolStruct, eip712_domain},
};
use bindings::{IBridge, IMulticall, IRealTimeInbox, IUserOpsSubmitter, UserOp, doubles};
use devnet::{
    accounts::{self, TEST_KEYS},
    network::L1_CHAIN_ID,
};
use doubles::FlashSwapL2::Message;
use serde_json::{Value, json};

pub use crate::support::traffic::{op_status as status, op_until_final as until_final, send_op_to};
use crate::support::{Network, message};

alloy::sol! {
    /// The EIP-712 type the UserOpsSubmitter verifies (protocol.md §8).
    struct ExecuteBatch { UserOp[] ops; }
}

/// One devnet per test at a time: they run many processes on 2 cores.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn start() -> Network {
    start_with(&[]).await
}

/// A devnet and a proposing node with `overrides` in its environment, ready for user ops.
pub async fn start_with(overrides: &[(&str, String)]) -> Network {
    let mut env = vec![("PRECONF_ONLY", "false".to_string())];
    env.extend(overrides.iter().cloned());
    let net = crate::support::start(&env).await;
    net.wait_for_log(
        |l| message(l) == "user-op simulations ready",
        Duration::from_secs(30),
    )
    .await;
    net
}

/// `executeBatch(ops, sig)` calldata for ops signed with EIP-712 by the submitter's owner;
/// checks the local digest against the contract's.
pub async fn signed_batch(net: &Network, ops: Vec<UserOp>) -> Bytes {
    let submitter = net.devnet.contracts.user_ops_submitter;
    let domain = eip712_domain! {
        name: "UserOpsSubmitter",
        version: "1",
        chain_id: L1_CHAIN_ID,
        verifying_contract: submitter,
    };
    let batch = ExecuteBatch { ops: ops.clone() };
    let digest = batch.eip712_signing_hash(&domain);
    let on_chain = IUserOpsSubmitter::new(submitter, net.l1())
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

pub fn ping(net: &Network, amount: u64) -> UserOp {
    UserOp {
        target: net.devnet.contracts.ping_l1,
        value: U256::ZERO,
        data: crate::support::traffic::ping_calldata(amount),
    }
}

pub async fn send_op(net: &Network, calldata: Bytes) -> u64 {
    send_op_to(net, net.devnet.contracts.user_ops_submitter, calldata).await
}

/// Polls until the op's status is `want`.
pub async fn until_status(net: &Network, id: u64, want: &str, within: Duration) -> Value {
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

pub async fn ping_answers(net: &Network) -> (U256, U256) {
    let ping = doubles::PingL1::new(net.devnet.contracts.ping_l1, net.l1());
    (
        ping.answers().call().await.unwrap(),
        ping.lastAnswer().call().await.unwrap(),
    )
}

/// The hash and Multicall calls of the L1 tx that landed the proposal ending at `block_id`
/// (Processing names the first tx sent; a fee bump may have replaced it).
pub async fn landed_calls(net: &Network, block_id: u64) -> (B256, Vec<bindings::Call>) {
    let logs = net.landed_logs().await;
    let (landed, _) = logs
        .iter()
        .find(|(_, e)| e.checkpoint.blockNumber.to::<u64>() == block_id)
        .unwrap_or_else(|| panic!("no proposal ending at L2 block {block_id} landed"));
    let tx_hash = landed.transaction_hash.unwrap();
    let tx = net
        .l1()
        .get_transaction_by_hash(tx_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tx.to(), Some(net.devnet.contracts.multicall));
    let calls = IMulticall::multicallCall::abi_decode(tx.input())
        .unwrap()
        .calls;
    (tx_hash, calls)
}

/// (target, selector) of each call.
pub fn shape_of(calls: &[bindings::Call]) -> Vec<(Address, [u8; 4])> {
    calls
        .iter()
        .map(|call| (call.target, call.data[..4].try_into().unwrap()))
        .collect()
}

/// Sets the devnet Raiko's proof delay.
pub async fn raiko_delay(net: &Network, ms: u64) {
    raiko_config(net, json!({"proof_delay_ms": ms})).await;
}

/// Makes the devnet Raiko fail the next `count` proof requests with `kind`.
pub async fn raiko_fail(net: &Network, kind: &str, count: u32) {
    raiko_config(net, json!({"fail": {"kind": kind, "count": count}})).await;
}

async fn raiko_config(net: &Network, config: Value) {
    let url = format!("{}/devnet/config", net.env["RAIKO_URL"]);
    let r = reqwest::Client::new()
        .post(url)
        .json(&config)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// Waits until `count` log lines satisfy `ok`; returns them.
pub async fn wait_for_logs(
    net: &Network,
    count: usize,
    ok: impl Fn(&Value) -> bool,
    within: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let found: Vec<Value> = net
            .logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| ok(l))
            .cloned()
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{count} matching log lines not seen within {within:?} ({} seen)",
            found.len()
        );
        assert!(net.node_alive(), "the node exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The node's report of the L1 runs of the block that carried `ops` user ops, as
/// `(user_ops, answers, l1_runs)`.
pub fn l1_runs(net: &Network, ops: u64) -> Option<(u64, u64, u64)> {
    net.logs.lock().unwrap().iter().find_map(|l| {
        let f = &l["fields"];
        (message(l) == "cross-chain calls of the block simulated on L1"
            && f["user_ops"].as_u64() == Some(ops))
        .then(|| {
            (
                f["user_ops"].as_u64().unwrap_or(0),
                f["answers"].as_u64().unwrap_or(0),
                f["l1_runs"].as_u64().unwrap_or(0),
            )
        })
    })
}

/// A returned message, as the surge_simulateReturnMessage JSON gives it.
pub fn message_from_json(v: &Value) -> Message {
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
pub fn blank() -> Message {
    message_from_json(
        &json!({"id": 0, "fee": 0, "gasLimit": 0, "from": Address::ZERO,
        "srcChainId": 0, "srcOwner": Address::ZERO, "destChainId": 0, "destOwner": Address::ZERO,
        "to": Address::ZERO, "value": "0", "data": "0x"}),
    )
}

/// The answers L1 would send to `data` called on the FlashSwapL2 by `from`, per the node,
/// and what the node assumed to predict them.
pub async fn simulate_return(net: &Network, from: Address, data: &Bytes) -> (Vec<Message>, Value) {
    let response = net.surge("surge_simulateReturnMessage",
        json!([{"from": from, "to": net.devnet.contracts.flash_swap_l2, "data": data, "value": "0"}]),
    )
    .await;
    let result = response
        .get("result")
        .unwrap_or_else(|| panic!("no answer: {response}"));
    assert_eq!(result["message"], result["messages"][0]["message"]);
    let messages = result["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| message_from_json(&m["message"]))
        .collect();
    (messages, result["assumed"].clone())
}

pub fn swap_call(amount: u64, recipient: Address, answer: Message) -> Bytes {
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
pub async fn send_l2(net: &Network, key: &str, data: Bytes) -> B256 {
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
pub fn print_node_logs(net: &Network) {
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
pub async fn preconfirmed(net: &Network, hash: B256, within: Duration) -> u64 {
    let (block, ok) = included(net, hash, within).await;
    if !ok {
        print_node_logs(net);
    }
    assert!(ok, "L2 tx {hash} reverted");
    block
}

/// The L2 block of a tx once it is in one, and whether it succeeded.
pub async fn included(net: &Network, hash: B256, within: Duration) -> (u64, bool) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(receipt) = net.l2.get_transaction_receipt(hash).await.unwrap() {
            return (receipt.block_number.unwrap(), receipt.status());
        }
        if Instant::now() >= deadline {
            print_node_logs(net);
            panic!("L2 tx {hash} not in a block within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the L2 pool holds `hash` (known, in no block yet).
pub async fn in_pool(net: &Network, hash: B256) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tx = net.l2.get_transaction_by_hash(hash).await.unwrap();
        if tx.is_some_and(|t| t.block_number.is_none()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "L2 tx {hash} never waited in the pool"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls surge_txStatus {txHash} until final; every distinct status seen.
pub async fn tx_until_final(net: &Network, hash: B256, within: Duration) -> Vec<Value> {
    crate::support::poll_final(net, &format!("tx {hash}"), within, || async move {
        net.surge("surge_txStatus", json!({"txHash": hash}))
            .await
            .get("result")
            .cloned()
    })
    .await
}

pub fn deferred(c: &devnet::deploy::Contracts, processed: usize) -> Vec<(Address, [u8; 4])> {
    std::iter::once((c.inbox, IRealTimeInbox::tentativeProposeCall::SELECTOR))
        .chain(std::iter::repeat_n(
            (c.l1_bridge, IBridge::processMessageCall::SELECTOR),
            processed,
        ))
        .chain([(c.inbox, IRealTimeInbox::finalizeProposeCall::SELECTOR)])
        .collect()
}

/// Lines cross-chain calls up for one block: a user op whose proof the devnet Raiko holds
/// keeps its proposal unlanded, and while it is, later user ops and L2→L1→L2 txs wait (their
/// L1 ids depend on it). Returns the op's id; [`release`] lets it land.
pub async fn hold_cross_chain(net: &Network) -> u64 {
    raiko_delay(net, 120_000).await;
    let id = send_op(net, signed_batch(net, vec![ping(net, 1)]).await).await;
    until_status(net, id, "ProvingBlock", Duration::from_secs(30)).await;
    id
}

/// Lets the op of [`hold_cross_chain`] land.
pub async fn release(net: &Network, held: u64) {
    raiko_delay(net, 0).await;
    let seen = until_final(net, held, Duration::from_secs(60)).await;
    assert_eq!(seen.last().unwrap()["status"], "Executed", "{seen:?}");
}

/// Waits until `count` user ops were simulated at intake and wait for a block.
pub async fn simulated(net: &Network, count: usize) {
    wait_for_logs(
        net,
        count,
        |l| message(l) == "user op simulated on L1; waiting for a block",
        Duration::from_secs(30),
    )
    .await;
}

/// The L2 block the inbox's head is (the last one on L1).
pub async fn inbox_head(net: &Network) -> u64 {
    let hash = IRealTimeInbox::new(net.devnet.contracts.inbox, net.l1())
        .getLastFinalizedBlockHash()
        .call()
        .await
        .unwrap();
    net.l2
        .get_block_by_hash(hash)
        .await
        .unwrap()
        .map_or(0, |b| b.header.number)
}

/// The L2 blocks whose logs from `address` carry `event`, in order.
pub async fn l2_event_blocks(net: &Network, address: Address, event: B256) -> Vec<u64> {
    net.l2
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(address)
                .event_signature(event)
                .from_block(0),
        )
        .await
        .unwrap()
        .iter()
        .map(|log| log.block_number.unwrap())
        .collect()
}
