//! Devnet smoke test, without the node: an L2 transfer through the L2 stand-in, an anchor and a
//! `preconfBlocks` built by hand, a proof from the Raiko stand-in for a hand-built blob, and
//! `propose` in a type-3 tx with an EIP-7594 sidecar through the Multicall, landing as
//! `ProposedAndProved` with the right checkpoint. A second proposal with a wrong blob gets a
//! Raiko error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::time::Duration;

use alloy::{
    network::{EthereumWallet, TransactionBuilder, TransactionBuilder4844},
    primitives::{Address, B256, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolEvent, SolValue},
};
use bindings::{BlobReference, Checkpoint, IMulticall, IRealTimeInbox, ProposeInput, SubProof};
use common::codec::manifest::DerivationSourceManifest;
use devnet::{
    accounts::{self, PRECONFER_KEY, TEST_KEYS},
    network::Devnet,
};
use serde_json::json;

mod support;

use support::chain::{self, BlockPlan};

/// Preconfirms one block through the driver and returns its checkpoint and manifest entry.
async fn preconfirm(
    devnet: &Devnet,
    plan: &BlockPlan,
) -> (Checkpoint, common::codec::manifest::BlockManifest) {
    let (body, manifest) = chain::preconf_request(devnet, plan).await;
    let (status, reply) = chain::driver(devnet, "preconfBlocks", &body, true).await;
    assert_eq!(status, 200, "{reply}");
    let header = &reply["blockHeader"];
    let checkpoint = Checkpoint {
        blockNumber: alloy::primitives::Uint::from(
            u64::from_str_radix(
                header["number"].as_str().unwrap().trim_start_matches("0x"),
                16,
            )
            .unwrap(),
        ),
        blockHash: header["hash"].as_str().unwrap().parse().unwrap(),
        stateRoot: header["stateRoot"].as_str().unwrap().parse().unwrap(),
    };
    assert_eq!(header["parentHash"], body["executableData"]["parentHash"]);
    (checkpoint, manifest)
}

#[tokio::test(flavor = "multi_thread")]
async fn smoke_preconfirm_prove_and_propose_by_hand() {
    let (devnet, _dir) = chain::start(Duration::from_millis(200)).await;
    let user = TEST_KEYS[0];
    let preconfer = accounts::address(PRECONFER_KEY);
    let recipient = Address::repeat_byte(0x42);

    // An L2 transfer goes to the stand-in's pool, not to the L2 EVM.
    let tx = chain::transfer(user, 0, recipient);
    let (_, sent) = chain::rpc(
        &devnet.urls.l2,
        None,
        "eth_sendRawTransaction",
        json!([chain::raw(&tx)]),
    )
    .await;
    assert_eq!(
        sent["result"].as_str().unwrap().parse::<B256>().unwrap(),
        *tx.tx_hash(),
        "{sent}"
    );
    assert_eq!(
        chain::pending_nonce(&devnet, accounts::address(user)).await,
        1
    );

    // The auth RPC hands it out behind the JWT, in the engine's shape.
    let params = json!([
        preconfer,
        chain::BASE_FEE,
        chain::GAS_LIMIT,
        120_000,
        [],
        1,
        0
    ]);
    let (status, _) = chain::rpc(
        &devnet.urls.l2_auth,
        None,
        "taikoAuth_txPoolContentWithMinTip",
        params.clone(),
    )
    .await;
    assert_eq!(status, 401, "the auth RPC must refuse calls without a JWT");
    let token = chain::bearer(&devnet);
    let (_, content) = chain::rpc(
        &devnet.urls.l2_auth,
        Some(&token),
        "taikoAuth_txPoolContentWithMinTip",
        params,
    )
    .await;
    let list = &content["result"][0]["TxList"];
    assert_eq!(list.as_array().unwrap().len(), 1, "{content}");
    assert_eq!(
        list[0]["hash"].as_str().unwrap().parse::<B256>().unwrap(),
        *tx.tx_hash()
    );

    // Anchor + the transfer, preconfirmed through the driver.
    let genesis = devnet.contracts.l2_genesis_hash;
    let anchor = chain::l1_anchor(&devnet).await;
    let plan = BlockPlan {
        anchor: anchor.clone(),
        signal_slots: vec![],
        txs: vec![tx.clone()],
        coinbase: preconfer,
    };
    let (checkpoint, block) = preconfirm(&devnet, &plan).await;
    let l2 = chain::provider(&devnet.urls.l2);
    assert_eq!(l2.get_balance(recipient).await.unwrap(), U256::from(1));
    assert_eq!(
        chain::pending_nonce(&devnet, accounts::address(user)).await,
        1,
        "the included tx left the pool"
    );

    // The blob and the proof.
    let manifest = DerivationSourceManifest {
        blocks: vec![block.clone()],
    };
    let car = chain::sidecar(&manifest);
    let number: u64 = checkpoint.blockNumber.to();
    let max_anchor: u64 = anchor.blockNumber.to();
    let request = chain::raiko_request(&[number], max_anchor, genesis, &[], &car, &checkpoint);
    let proof = chain::raiko_prove(&devnet, &request).await.unwrap();
    assert_eq!(proof.len(), 65);

    // propose through the Multicall in a type-3 tx with a 7594 sidecar.
    let input = ProposeInput {
        blobReference: BlobReference {
            blobStartIndex: 0,
            numBlobs: car.blobs.len() as u16,
            offset: Default::default(),
        },
        numForcedInclusions: 0,
        signalSlots: vec![],
        maxAnchorBlockNumber: alloy::primitives::Uint::from(max_anchor),
    };
    let propose = IRealTimeInbox::proposeCall {
        _data: input.abi_encode().into(),
        _checkpoint: checkpoint.clone(),
        _proof: vec![SubProof {
            proofBitFlag: 1,
            data: proof,
        }]
        .abi_encode()
        .into(),
    };
    let calls = vec![bindings::Call {
        target: devnet.contracts.inbox,
        value: U256::ZERO,
        data: propose.abi_encode().into(),
    }];
    let l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(accounts::signer(PRECONFER_KEY)))
        .connect_http(devnet.urls.l1.clone());
    let tx = TransactionRequest::default()
        .with_to(devnet.contracts.multicall)
        .with_input(IMulticall::multicallCall { calls }.abi_encode())
        .with_blob_sidecar_7594(car.clone());
    let receipt = l1
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "propose reverted: {receipt:?}");
    let event = receipt
        .logs()
        .iter()
        .find_map(|log| IRealTimeInbox::ProposedAndProved::decode_log(&log.inner).ok())
        .expect("ProposedAndProved");
    assert_eq!(event.data.checkpoint, checkpoint);
    assert_eq!(event.data.lastFinalizedBlockHash, genesis);
    let inbox = IRealTimeInbox::new(devnet.contracts.inbox, &l1);
    assert_eq!(
        inbox.getLastFinalizedBlockHash().call().await.unwrap(),
        checkpoint.blockHash
    );

    // A second proposal whose blob says something else than the chain: Raiko refuses it.
    let anchor2 = chain::l1_anchor(&devnet).await;
    let plan2 = BlockPlan {
        anchor: anchor2.clone(),
        signal_slots: vec![],
        txs: vec![],
        coinbase: preconfer,
    };
    let (checkpoint2, mut block2) = preconfirm(&devnet, &plan2).await;
    block2.timestamp += 1;
    let wrong = chain::sidecar(&DerivationSourceManifest {
        blocks: vec![block2],
    });
    let request = chain::raiko_request(
        &[checkpoint2.blockNumber.to()],
        anchor2.blockNumber.to(),
        checkpoint.blockHash,
        &[],
        &wrong,
        &checkpoint2,
    );
    let error = chain::raiko_prove(&devnet, &request).await.unwrap_err();
    assert!(error.contains("manifest.blocks[0].timestamp"), "{error}");
}
