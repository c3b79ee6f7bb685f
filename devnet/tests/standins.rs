//! Each stand-in refuses what the real component refuses, with a reason: the driver (bad anchor,
//! wrong parent, undecodable or unexecutable tx list, missing JWT), Raiko (bad blob, wrong
//! manifest, wrong checkpoint or parent, injected failures), the L2 RPC (wrong chain, dev-only
//! methods); reorgs put txs back into the pool; the beacon API matches the L1 block time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::time::Duration;

use alloy::{
    consensus::{SignableTransaction, TxEnvelope},
    network::TxSignerSync,
    primitives::{Address, B256, Bytes},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use bindings::Checkpoint;
use common::{anchor, codec::manifest::DerivationSourceManifest};
use devnet::{
    accounts::{self, PRECONFER_KEY, TEST_KEYS},
    network::Devnet,
};
use serde_json::{Value, json};

mod support;

use support::chain::{self, BlockPlan};

fn error_of(body: &Value) -> String {
    body["error"].as_str().unwrap_or_default().to_string()
}

async fn head_hash(devnet: &Devnet) -> B256 {
    let l2 = chain::provider(&devnet.urls.l2);
    l2.get_block_by_number(Default::default())
        .await
        .unwrap()
        .unwrap()
        .header
        .hash
}

/// Replaces the anchor (first tx) of a preconfBlocks body.
fn with_txs(mut body: Value, txs: &[TxEnvelope]) -> Value {
    body["executableData"]["transactions"] = json!(Bytes::from(chain::tx_list(txs)));
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn driver_refuses_bad_blocks_and_reorgs_back() {
    let (devnet, _dir) = chain::start(Duration::from_millis(100)).await;
    let preconfer = accounts::address(PRECONFER_KEY);
    let user = TEST_KEYS[1];
    let anchor_cp = chain::l1_anchor(&devnet).await;
    let plan = BlockPlan {
        anchor: anchor_cp.clone(),
        signal_slots: vec![],
        txs: vec![],
        coinbase: preconfer,
    };
    let (good, _) = chain::preconf_request(&devnet, &plan).await;
    let before = head_hash(&devnet).await;

    let (status, _) = chain::driver(&devnet, "preconfBlocks", &good, false).await;
    assert_eq!(status, 401, "no JWT");

    let mut wrong_parent = good.clone();
    wrong_parent["executableData"]["parentHash"] = json!(B256::repeat_byte(1));
    let (status, body) = chain::driver(&devnet, "preconfBlocks", &wrong_parent, true).await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("wrong parent"), "{body}");

    let mut garbage = good.clone();
    garbage["executableData"]["transactions"] = json!("0x0102030405");
    let (status, body) = chain::driver(&devnet, "preconfBlocks", &garbage, true).await;
    assert_eq!(status, 400);
    assert!(error_of(&body).starts_with("transactions:"), "{body}");

    // Anchor signed by the golden-touch key with an ordinary (RFC 6979) signature.
    let l2 = chain::provider(&devnet.urls.l2);
    let gt_nonce = l2
        .get_transaction_count(anchor::GOLDEN_TOUCH_ADDRESS)
        .await
        .unwrap();
    let params = anchor::AnchorParams {
        chain_id: devnet::network::L2_CHAIN_ID,
        nonce: gt_nonce,
        base_fee: u128::from(chain::BASE_FEE),
        anchor: devnet.contracts.anchor,
        checkpoint: anchor_cp.clone(),
        signal_slots: vec![],
    };
    let mut unsigned = anchor::unsigned(&params);
    let gt: PrivateKeySigner =
        PrivateKeySigner::from_bytes(&anchor::GOLDEN_TOUCH_PRIVATE_KEY).unwrap();
    let sig = gt.sign_transaction_sync(&mut unsigned).unwrap();
    let rfc6979 = TxEnvelope::Eip1559(unsigned.into_signed(sig));
    let (status, body) = chain::driver(
        &devnet,
        "preconfBlocks",
        &with_txs(good.clone(), &[rfc6979]),
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("fixed-k"), "{body}");

    // Anchor of an L1 block that does not exist as claimed.
    let forged = anchor::signed(&anchor::AnchorParams {
        checkpoint: Checkpoint {
            blockHash: B256::repeat_byte(9),
            ..anchor_cp.clone()
        },
        ..params.clone()
    });
    let (status, body) = chain::driver(
        &devnet,
        "preconfBlocks",
        &with_txs(good.clone(), &[forged]),
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("bad anchor: checkpoint"), "{body}");

    // Anchor with the wrong max fee (must equal the base fee).
    let overpaid = anchor::signed(&anchor::AnchorParams {
        base_fee: u128::from(chain::BASE_FEE) + 1,
        ..params.clone()
    });
    let (status, body) = chain::driver(
        &devnet,
        "preconfBlocks",
        &with_txs(good.clone(), &[overpaid]),
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("maxFeePerGas"), "{body}");

    // A user tx first instead of the anchor.
    let transfer = chain::transfer(user, 0, Address::repeat_byte(7));
    let (status, body) = chain::driver(
        &devnet,
        "preconfBlocks",
        &with_txs(good.clone(), std::slice::from_ref(&transfer)),
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("bad anchor: sent by"), "{body}");

    // A tx with a nonce gap is not executable: refused, and the L2 is left as it was.
    let proper = anchor::signed(&params);
    let gap = chain::transfer(user, 5, Address::repeat_byte(7));
    let (status, body) = chain::driver(
        &devnet,
        "preconfBlocks",
        &with_txs(good.clone(), &[proper.clone(), gap]),
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        error_of(&body).contains("transactions[1]") && error_of(&body).contains("not executable"),
        "{body}"
    );
    assert_eq!(
        head_hash(&devnet).await,
        before,
        "a refused block leaves no trace"
    );

    // The good block, then a second one with a user tx; reorg the second away: its tx is back
    // in the pool and the head is the first block again.
    let (status, body) = chain::driver(&devnet, "preconfBlocks", &good, true).await;
    assert_eq!(status, 200, "{body}");
    let first = body["blockHeader"]["hash"]
        .as_str()
        .unwrap()
        .parse::<B256>()
        .unwrap();
    let (_, sent) = chain::rpc(
        &devnet.urls.l2,
        None,
        "eth_sendRawTransaction",
        json!([chain::raw(&transfer)]),
    )
    .await;
    assert!(sent["result"].is_string(), "{sent}");
    let plan = BlockPlan {
        txs: vec![transfer.clone()],
        ..plan
    };
    let (second, _) = chain::preconf_request(&devnet, &plan).await;
    let (status, body) = chain::driver(&devnet, "preconfBlocks", &second, true).await;
    assert_eq!(status, 200, "{body}");
    let number = second["executableData"]["blockNumber"].as_u64().unwrap();
    let (status, body) = chain::driver(
        &devnet,
        "reorgStaleBlock",
        &json!({"newHeadBlockNumber": number + 5}),
        true,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = chain::driver(
        &devnet,
        "reorgStaleBlock",
        &json!({"newHeadBlockNumber": number - 1}),
        true,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["blocksRemoved"], 1);
    assert_eq!(
        body["newHeadBlockHash"]
            .as_str()
            .unwrap()
            .parse::<B256>()
            .unwrap(),
        first
    );
    assert_eq!(head_hash(&devnet).await, first);
    assert_eq!(
        chain::pending_nonce(&devnet, accounts::address(user)).await,
        1,
        "the reorged tx is pending again"
    );

    let response = reqwest::Client::new()
        .get(devnet.urls.l2_driver.join("status").unwrap())
        .header("authorization", chain::bearer(&devnet))
        .send()
        .await
        .unwrap();
    let status: Value = response.json().await.unwrap();
    assert_eq!(
        status["highestUnsafeL2PayloadBlockID"].as_u64().unwrap(),
        number - 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn raiko_refuses_what_does_not_derive_and_injects_failures() {
    let (devnet, _dir) = chain::start(Duration::from_millis(100)).await;
    let preconfer = accounts::address(PRECONFER_KEY);
    let anchor_cp = chain::l1_anchor(&devnet).await;
    let max_anchor: u64 = anchor_cp.blockNumber.to();
    let genesis = devnet.contracts.l2_genesis_hash;
    let tx = chain::transfer(TEST_KEYS[2], 0, Address::repeat_byte(3));
    let (_, sent) = chain::rpc(
        &devnet.urls.l2,
        None,
        "eth_sendRawTransaction",
        json!([chain::raw(&tx)]),
    )
    .await;
    assert!(sent["result"].is_string(), "{sent}");
    let plan = BlockPlan {
        anchor: anchor_cp.clone(),
        signal_slots: vec![],
        txs: vec![tx.clone()],
        coinbase: preconfer,
    };
    let (body, block) = chain::preconf_request(&devnet, &plan).await;
    let (status, reply) = chain::driver(&devnet, "preconfBlocks", &body, true).await;
    assert_eq!(status, 200, "{reply}");
    let header = &reply["blockHeader"];
    let number = body["executableData"]["blockNumber"].as_u64().unwrap();
    let checkpoint = Checkpoint {
        blockNumber: alloy::primitives::Uint::from(number),
        blockHash: header["hash"].as_str().unwrap().parse().unwrap(),
        stateRoot: header["stateRoot"].as_str().unwrap().parse().unwrap(),
    };
    let good = DerivationSourceManifest {
        blocks: vec![block.clone()],
    };
    let car = chain::sidecar(&good);
    let request = |car: &_, cp: &Checkpoint, parent: B256| {
        chain::raiko_request(&[number], max_anchor, parent, &[], car, cp)
    };

    // Bad blob: the hashes do not belong to the blobs.
    let mut bad_blob = request(&car, &checkpoint, genesis);
    bad_blob["sources"][0]["blobSlice"]["blobHashes"][0] = json!(B256::repeat_byte(1));
    let error = chain::raiko_prove(&devnet, &bad_blob).await.unwrap_err();
    assert!(error.contains("blobHashes[0]"), "{error}");

    // Wrong manifest: the tx list differs from the chain's.
    let mut other = block.clone();
    other.transactions.clear();
    let wrong = chain::sidecar(&DerivationSourceManifest {
        blocks: vec![other],
    });
    let error = chain::raiko_prove(&devnet, &request(&wrong, &checkpoint, genesis))
        .await
        .unwrap_err();
    assert!(error.contains("manifest.blocks[0].transactions"), "{error}");

    // Wrong coinbase.
    let mut other = block.clone();
    other.coinbase = Address::repeat_byte(5);
    let wrong = chain::sidecar(&DerivationSourceManifest {
        blocks: vec![other],
    });
    let error = chain::raiko_prove(&devnet, &request(&wrong, &checkpoint, genesis))
        .await
        .unwrap_err();
    assert!(error.contains("manifest.blocks[0].coinbase"), "{error}");

    // Wrong checkpoint and wrong parent.
    let bad_cp = Checkpoint {
        stateRoot: B256::repeat_byte(2),
        ..checkpoint.clone()
    };
    let error = chain::raiko_prove(&devnet, &request(&car, &bad_cp, genesis))
        .await
        .unwrap_err();
    assert!(error.starts_with("checkpoint"), "{error}");
    let error = chain::raiko_prove(&devnet, &request(&car, &checkpoint, B256::repeat_byte(3)))
        .await
        .unwrap_err();
    assert!(error.starts_with("last_finalized_block_hash"), "{error}");

    // Not a blob payload at all (raw zlib without the scheme byte is refused like the driver does).
    let mut raw_zlib_blob = request(&car, &checkpoint, genesis);
    let junk = alloy::eips::eip4844::builder::SidecarBuilder::<common::codec::blob::KonaBlobCoder>::from_slice(
        &common::codec::payload::frame(&common::codec::payload::compress(&good.rlp())),
    )
    .build_7594()
    .unwrap();
    raw_zlib_blob["blobs"] = json!([Bytes::from(junk.blobs[0].to_vec())]);
    raw_zlib_blob["sources"][0]["blobSlice"]["blobHashes"] =
        json!(junk.versioned_hashes().collect::<Vec<_>>());
    let error = chain::raiko_prove(&devnet, &raw_zlib_blob)
        .await
        .unwrap_err();
    assert!(
        error.contains("unknown payload scheme byte 0x78"),
        "{error}"
    );

    // Injected failures, then a good request proves.
    let good_request = request(&car, &checkpoint, genesis);
    let configure = |body: Value| {
        let url = devnet.urls.raiko.join("devnet/config").unwrap();
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        configure(json!({"fail": {"kind": "http500", "count": 1}})).await,
        200
    );
    let (status, _) = chain::raiko_once(&devnet, &good_request).await;
    assert_eq!(status, 500);
    assert_eq!(
        configure(json!({"fail": {"kind": "not_drawn", "count": 1}})).await,
        200
    );
    let (_, body) = chain::raiko_once(&devnet, &good_request).await;
    assert_eq!(body["data"]["status"], "zk_any_not_drawn");
    assert_eq!(
        configure(json!({"fail": {"kind": "failed", "count": 1}})).await,
        200
    );
    let (status, body) = chain::raiko_once(&devnet, &good_request).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok", "a failed task is an ok envelope");
    assert!(body["data"]["status"]["anyhow_error"].is_string(), "{body}");
    assert_eq!(
        configure(
            json!({"fail": {"kind": "status", "count": 1, "status": "proof_failure__generic"}})
        )
        .await,
        200
    );
    let (_, body) = chain::raiko_once(&devnet, &good_request).await;
    assert_eq!(body["data"]["status"], "proof_failure__generic");
    // A status-only poll of a job never submitted: Raiko's "proof not found".
    let mut other = good_request.clone();
    other["l2_block_hashes"] = json!([B256::repeat_byte(0x44)]);
    let (status, body) = chain::raiko_once(&devnet, &chain::status_only(&other)).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "error");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("proof not found: expired or never submitted"),
        "{body}"
    );
    // Over the rate limit: 429 with an empty body.
    assert_eq!(configure(json!({"rate_limit_per_min": 1})).await, 200);
    let (first, _) = chain::raiko_once(&devnet, &chain::status_only(&other)).await;
    let (second, _) = chain::raiko_once(&devnet, &chain::status_only(&other)).await;
    assert_eq!((first, second), (200, 429));
    assert_eq!(configure(json!({"rate_limit_per_min": 0})).await, 200);
    assert_eq!(
        configure(json!({"fail": {"kind": "error", "count": 1}})).await,
        200
    );
    let error = chain::raiko_prove(&devnet, &good_request)
        .await
        .unwrap_err();
    assert!(error.contains("injected"), "{error}");
    assert_eq!(
        configure(json!({"fail": {"kind": "timeout", "count": 1}})).await,
        200
    );
    let held = reqwest::Client::new()
        .post(devnet.urls.raiko.join("v3/proof/batch/realtime").unwrap())
        .timeout(Duration::from_millis(300))
        .json(&good_request)
        .send()
        .await;
    assert!(
        held.unwrap_err().is_timeout(),
        "a timeout failure holds the request"
    );
    let proof = chain::raiko_prove(&devnet, &good_request).await.unwrap();
    assert_eq!(proof.len(), 65);
}

#[tokio::test(flavor = "multi_thread")]
async fn l2_rpc_and_beacon_speak_their_apis() {
    let (devnet, _dir) = chain::start(Duration::from_millis(100)).await;
    // Wrong chain id.
    let mut tx = alloy::consensus::TxEip1559 {
        chain_id: 1,
        gas_limit: 21_000,
        max_fee_per_gas: 1_000_000_000,
        ..Default::default()
    };
    let sig = accounts::signer(TEST_KEYS[3])
        .sign_transaction_sync(&mut tx)
        .unwrap();
    let wrong_chain = TxEnvelope::Eip1559(tx.into_signed(sig));
    let (_, reply) = chain::rpc(
        &devnet.urls.l2,
        None,
        "eth_sendRawTransaction",
        json!([chain::raw(&wrong_chain)]),
    )
    .await;
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chain id"),
        "{reply}"
    );
    // Garbage.
    let (_, reply) = chain::rpc(
        &devnet.urls.l2,
        None,
        "eth_sendRawTransaction",
        json!(["0x1234"]),
    )
    .await;
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not decode"),
        "{reply}"
    );
    // Dev-only methods are not part of an L2 RPC.
    let (_, reply) = chain::rpc(&devnet.urls.l2, None, "evm_mine", json!([])).await;
    assert_eq!(reply["error"]["code"], -32601, "{reply}");
    // Reads are proxied.
    let (_, reply) = chain::rpc(&devnet.urls.l2, None, "eth_chainId", json!([])).await;
    assert_eq!(
        reply["result"],
        format!("0x{:x}", devnet::network::L2_CHAIN_ID)
    );

    let spec: Value = reqwest::get(devnet.urls.beacon.join("eth/v1/config/spec").unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["data"]["SECONDS_PER_SLOT"], "1");
    let genesis: Value = reqwest::get(devnet.urls.beacon.join("eth/v1/beacon/genesis").unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        genesis["data"]["genesis_time"],
        devnet.genesis_time.to_string()
    );
}
