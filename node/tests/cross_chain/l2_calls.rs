//! L2→L1→L2 txs: an L2 tx that sends a message to L1 and consumes L1's answer in the same
//! tx, landed with its answer in one L1 tx; several users at once; and txs that revert on L2,
//! whose status says so.

use std::time::{Duration, Instant};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    sol_types::SolCall,
};
use bindings::{IUserOpsSubmitter, doubles};
use devnet::accounts::{self, TEST_KEYS};
use doubles::FlashSwapL2::Message;
use serde_json::json;

use crate::client::*;

#[tokio::test]
async fn l2_calls_that_consume_l1_answers_land_with_their_answers_in_one_l1_tx() {
    let _serial = SERIAL.lock().await;
    let net = start().await;
    let c = net.devnet.contracts;
    let swap = doubles::FlashSwapL2::new(c.flash_swap_l2, net.l2.clone());
    let market = doubles::SwapMarketL1::new(c.swap_market_l1, net.l1());
    let user = accounts::address(TEST_KEYS[1]);
    let recipient = Address::repeat_byte(0x77);

    // 1. The demo: ask for the answer, build the tx with it, send it to L2.
    let placeholder = swap_call(7, recipient, blank());
    let answer = simulate_return(&net, user, &placeholder).await.0.remove(0);
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
    let answers = simulate_return(&net, user, &two(blank(), blank())).await.0;
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

    // 3. A user op (L1→L2→L1) and an L2→L1→L2 tx in one proposal. The op is sent first and
    // waits for a block; the answer the node predicts counts the op's deposit, which runs
    // first in the multicall.
    let held = hold_cross_chain(&net).await;
    let op_calldata = signed_batch(&net, vec![ping(&net, 3)]).await;
    let id = send_op(&net, op_calldata.clone()).await;
    simulated(&net, 2).await;
    let (answers, assumed) = simulate_return(&net, user, &placeholder).await;
    println!("RESULT e2e l2_l1_l2 after_user_op assumed={assumed}");
    assert!(assumed["userOpsAhead"].as_u64().unwrap() >= 1, "{assumed}");
    let hash = send_l2(
        &net,
        TEST_KEYS[1],
        swap_call(7, recipient, answers[0].clone()),
    )
    .await;
    in_pool(&net, hash).await;
    release(&net, held).await;
    let block = preconfirmed(&net, hash, Duration::from_secs(30)).await;
    let op_seen = until_final(&net, id, Duration::from_secs(90)).await;
    let tx_seen = tx_until_final(&net, hash, Duration::from_secs(90)).await;
    assert_eq!(op_seen.last().unwrap()["status"], "Executed", "{op_seen:?}");
    assert_eq!(tx_seen.last().unwrap()["status"], "Executed", "{tx_seen:?}");
    let (_, calls) = landed_calls(&net, block).await;
    assert_eq!(
        calls[0].data, op_calldata,
        "the op and the tx share the proposal of block {block}"
    );
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

    // 4. Drift: L1's answer changes after the block was built. The proposal is dropped and
    // the L2 reorged; the tx is Rejected with its own reason (the other contents of the
    // proposal would be retried), and later proposals land.
    raiko_delay(&net, 6_000).await;
    let placeholder = swap_call(5, recipient, blank());
    let answer = simulate_return(&net, user, &placeholder).await.0.remove(0);
    let hash = send_l2(&net, TEST_KEYS[1], swap_call(5, recipient, answer)).await;
    let drift_block = preconfirmed(&net, hash, Duration::from_secs(30)).await;
    let first_block = net
        .l2
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .unwrap()
        .block_hash;
    let owner = ProviderBuilder::new()
        .wallet(EthereumWallet::from(accounts::signer(accounts::OWNER_KEY)))
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
    // Its block is reorged away; back in the pool, it may go in again, without its answer:
    // then it reverts, and its status stays Rejected.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let receipt = net.l2.get_transaction_receipt(hash).await.unwrap();
        match receipt {
            Some(r) if r.block_hash == first_block => {}
            Some(r) => {
                assert!(!r.status(), "without its answer it cannot succeed");
                break;
            }
            None => break,
        }
        assert!(
            Instant::now() < deadline,
            "the L2 block with the tx was not reorged away"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let now = tx_until_final(&net, hash, Duration::from_secs(5)).await;
    assert_eq!(now.last(), Some(last), "a final status does not change");
    let answer = simulate_return(&net, user, &placeholder).await.0.remove(0);
    let hash = send_l2(&net, TEST_KEYS[3], swap_call(5, recipient, answer)).await;
    preconfirmed(&net, hash, Duration::from_secs(30)).await;
    let seen = tx_until_final(&net, hash, Duration::from_secs(90)).await;
    assert_eq!(
        seen.last().unwrap()["status"],
        "Executed",
        "after the drift: {seen:?}"
    );
    // The abandoned proposal was proved (and cached by Raiko) before it failed; its block
    // number was proposed again with other contents, and proved for those: a stale cache hit
    // is refused by the stand-in, so none happened.
    assert!(inbox_head(&net).await >= drift_block);
    let now = net
        .l2
        .get_block_by_number(drift_block.into())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        Some(now.header.hash),
        first_block,
        "block {drift_block} was rebuilt"
    );
    let stats: serde_json::Value =
        reqwest::get(net.devnet.urls.raiko.join("devnet/stats").unwrap())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    println!("RESULT e2e l2_l1_l2 reproposed block={drift_block} raiko={stats}");
    assert_eq!(stats["refused"], 0, "no stale cache hit: {stats}");
}

#[tokio::test]
async fn two_users_who_ask_for_answers_within_one_heartbeat_both_land_unedited() {
    let _serial = SERIAL.lock().await;
    let net = start().await;
    let c = net.devnet.contracts;
    let swap = doubles::FlashSwapL2::new(c.flash_swap_l2, net.l2.clone());
    let (alice, bob) = (
        accounts::address(TEST_KEYS[1]),
        accounts::address(TEST_KEYS[2]),
    );
    // While an earlier cross-chain proposal is unlanded, L2→L1→L2 txs wait in the pool: both
    // users ask and send before any block takes Alice's tx.
    let held = hold_cross_chain(&net).await;
    let placeholder = |to: Address| swap_call(7, to, blank());
    let (a_answers, a_assumed) = simulate_return(&net, alice, &placeholder(alice)).await;
    let a = send_l2(
        &net,
        TEST_KEYS[1],
        swap_call(7, alice, a_answers[0].clone()),
    )
    .await;
    in_pool(&net, a).await;
    let (b_answers, b_assumed) = simulate_return(&net, bob, &placeholder(bob)).await;
    println!("RESULT e2e l2_l1_l2 two_users alice_assumed={a_assumed} bob_assumed={b_assumed}");
    assert!(
        b_assumed["l2TxsAhead"].as_u64().unwrap() >= 1,
        "Bob's answer counts Alice's tx in the pool: {b_assumed}"
    );
    assert_eq!(
        b_answers[0].id,
        a_answers[0].id + 1,
        "Alice's answer is sent first on L1"
    );
    let b = send_l2(&net, TEST_KEYS[2], swap_call(7, bob, b_answers[0].clone())).await;
    in_pool(&net, b).await;
    release(&net, held).await;

    let (block_a, block_b) = (
        preconfirmed(&net, a, Duration::from_secs(30)).await,
        preconfirmed(&net, b, Duration::from_secs(30)).await,
    );
    for hash in [a, b] {
        let seen = tx_until_final(&net, hash, Duration::from_secs(90)).await;
        assert_eq!(seen.last().unwrap()["status"], "Executed", "{seen:?}");
    }
    assert_eq!(swap.balanceOf(alice).call().await.unwrap(), U256::from(14));
    assert_eq!(swap.balanceOf(bob).call().await.unwrap(), U256::from(14));
    let runs = l1_runs(&net, 0);
    println!(
        "RESULT e2e l2_l1_l2 two_users blocks={block_a},{block_b} answer_ids={},{} block_report={runs:?}",
        a_answers[0].id, b_answers[0].id
    );
    assert_eq!(
        block_a, block_b,
        "both were in the pool when the block was built"
    );
}

#[tokio::test]
async fn l2_calls_that_revert_on_l2_end_rejected_with_a_reason_never_executed() {
    let _serial = SERIAL.lock().await;
    let net = start_with(&[("RETURN_TX_HOLD_SEC", "3".into())]).await;
    let c = net.devnet.contracts;
    let user = accounts::address(TEST_KEYS[1]);
    let placeholder = swap_call(7, user, blank());

    // 1. An answer from someone other than the L1 market: the swap fails even with it as a
    // fast signal, so no prediction can help; the block takes it and it reverts.
    let mut forged = simulate_return(&net, user, &placeholder).await.0.remove(0);
    forged.from = Address::repeat_byte(0x66);
    let failing = send_l2(&net, TEST_KEYS[1], swap_call(7, user, forged)).await;
    // 2. An answer L1 will never send (a wrong id): held back RETURN_TX_HOLD_SEC waiting for
    // it, then taken without it.
    let mut wrong = simulate_return(&net, user, &placeholder).await.0.remove(0);
    wrong.id += 100;
    let held = send_l2(&net, TEST_KEYS[2], swap_call(7, user, wrong)).await;
    // 3. A plain L2 tx that reverts, which the node does not track: the chain's answer.
    let plain = send_plain_revert(&net).await;

    for (hash, expect) in [
        (failing, "reverts even with the L1 answers it consumes"),
        (held, "held back 3 s"),
    ] {
        let (block, ok) = included(&net, hash, Duration::from_secs(30)).await;
        assert!(!ok, "tx {hash} reverts in block {block}");
        let seen = tx_until_final(&net, hash, Duration::from_secs(30)).await;
        println!("RESULT e2e l2_l1_l2 reverted tx={hash} block={block} statuses={seen:?}");
        let last = seen.last().unwrap();
        assert_eq!(last["status"], "Rejected", "{seen:?}");
        let reason = last["reason"].as_str().unwrap();
        assert!(reason.contains(expect), "{reason}");
    }
    let (block, ok) = included(&net, plain, Duration::from_secs(30)).await;
    assert!(!ok);
    // Once its block is on L1 a success would read Executed: it must still read Rejected.
    let deadline = Instant::now() + Duration::from_secs(60);
    while inbox_head(&net).await < block {
        assert!(Instant::now() < deadline, "block {block} never landed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for hash in [failing, held, plain] {
        let status = net.surge("surge_txStatus", json!({"txHash": hash})).await;
        assert_eq!(status["result"]["status"], "Rejected", "{hash}: {status}");
    }
    let plain_status = net.surge("surge_txStatus", json!({"txHash": plain})).await;
    println!(
        "RESULT e2e l2_l1_l2 untracked_revert status={}",
        plain_status["result"]
    );
    assert_eq!(
        c.flash_swap_l2, net.devnet.contracts.flash_swap_l2,
        "the demo app did not move"
    );
}

/// An L2 tx that reverts (re-setting the swap's peer, which only its deployer may do once);
/// explicit gas, since estimation would refuse it.
async fn send_plain_revert(net: &crate::support::Network) -> alloy::primitives::B256 {
    let data: Bytes = doubles::FlashSwapL2::setPeerCall {
        _peer: Address::repeat_byte(1),
    }
    .abi_encode()
    .into();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(accounts::signer(TEST_KEYS[3])))
        .connect_http(net.devnet.urls.l2.clone());
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(net.devnet.contracts.flash_swap_l2)
        .input(data.into())
        .gas_limit(200_000);
    *provider.send_transaction(tx).await.unwrap().tx_hash()
}
