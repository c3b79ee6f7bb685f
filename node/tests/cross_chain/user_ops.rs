//! L1→L2→L1 user ops: a user signs an EIP-712 UserOpsSubmitter batch that pings the L2
//! counter; the counter answers; one L1 multicall runs the op, the propose and the answer. Also
//! rejections, a SIGKILL with ops in flight, and a proposal abandoned by the prover.

use std::time::{Duration, Instant};

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
    signers::SignerSync,
    sol_types::SolCall,
};
use bindings::{IBridge, IRealTimeInbox, IUserOpsSubmitter, doubles};
use devnet::accounts::{self, TEST_KEYS};
use serde_json::json;

use crate::{client::*, support::message};

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
    let receipt = net
        .l1()
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
    let unknown = net.surge("surge_userOpStatus", json!([empty + 1000])).await;
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

#[tokio::test]
async fn ops_of_a_proposal_the_prover_fails_are_retried_and_run_once_without_being_resent() {
    let _serial = SERIAL.lock().await;
    let net = start().await;
    // Every proof attempt of the op's proposal fails (PROOF_MAX_ATTEMPTS is 2): the proposal
    // is abandoned, through no fault of the op.
    raiko_fail(&net, "error", 2).await;
    let id = send_op(&net, signed_batch(&net, vec![ping(&net, 6)]).await).await;
    let seen = until_final(&net, id, Duration::from_secs(120)).await;
    println!("RESULT e2e user_op retried id={id} statuses={seen:?}");
    assert_eq!(seen.last().unwrap()["status"], "Executed", "{seen:?}");
    let names: Vec<&str> = seen.iter().filter_map(|s| s["status"].as_str()).collect();
    let first_block = names.iter().position(|n| *n == "ProvingBlock").unwrap();
    assert!(
        names[first_block..].contains(&"Pending"),
        "back to Pending after its proposal was abandoned: {names:?}"
    );
    net.wait_for_log(
        |l| message(l) == "proposals abandoned; the L2 goes back to the inbox's head",
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(
        ping_answers(&net).await,
        (U256::from(1), U256::from(6)),
        "it ran once, in its second proposal"
    );
}
