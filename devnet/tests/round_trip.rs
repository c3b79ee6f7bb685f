//! An L1→L2→L1 round trip through the bridge, signal service and anchor doubles on two anvils,
//! done by hand the way the node and the driver will do it: the L1 message's signal becomes a fast
//! signal in the L2 anchor, the L2 answer is proved back to L1 with a real storage proof against
//! the L2 checkpoint. Also pins the Bridge `__ctx` storage layout the node's simulations override.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{B256, Bytes, U256, address, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
    rpc::types::{
        TransactionRequest,
        state::{AccountOverride, StateOverridesBuilder},
    },
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolError, SolValue},
};
use bindings::{Checkpoint, IAnchor, IBridge, ISignalService, doubles};
use devnet::anvil::{Anvil, AnvilOptions};

mod support;

use support::{Confirm, L1_CHAIN_ID, L2_CHAIN_ID, OWNER_KEY, hop_proof, u48};

use common::anchor::GOLDEN_TOUCH_ADDRESS as GOLDEN_TOUCH;

async fn send(
    provider: &DynProvider,
    tx: TransactionRequest,
) -> alloy::rpc::types::TransactionReceipt {
    let receipt = provider
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "transaction reverted: {receipt:?}");
    receipt
}

#[tokio::test]
async fn an_l1_message_is_answered_from_l2_and_the_answer_lands_on_l1() {
    let l1 = Anvil::start(&AnvilOptions::default()).unwrap();
    let l2 = Anvil::start(&AnvilOptions {
        chain_id: Some(L2_CHAIN_ID),
        ..Default::default()
    })
    .unwrap();
    let signer: PrivateKeySigner = OWNER_KEY.parse().unwrap();
    let owner = signer.address();
    let wallet = EthereumWallet::from(signer);
    let p1 = ProviderBuilder::new()
        .wallet(wallet.clone())
        .connect_http(l1.url.clone())
        .erased();
    let p2 = ProviderBuilder::new()
        .wallet(wallet)
        .connect_http(l2.url.clone())
        .erased();
    let p2_raw = ProviderBuilder::new().connect_http(l2.url.clone()).erased();

    // L1: signal service (the test plays the inbox, its syncer), bridge, ping app.
    let ss1 = doubles::SignalService::deploy(&p1, owner).await.unwrap();
    let bridge1 = doubles::Bridge::deploy(&p1, owner, *ss1.address())
        .await
        .unwrap();
    let ping = doubles::PingL1::deploy(&p1, *bridge1.address(), L2_CHAIN_ID)
        .await
        .unwrap();
    // L2: signal service (synced by the anchor), bridge, anchor, counter app.
    let ss2 = doubles::SignalService::deploy(&p2, owner).await.unwrap();
    let bridge2 = doubles::Bridge::deploy(&p2, owner, *ss2.address())
        .await
        .unwrap();
    let anchor = doubles::Anchor::deploy(&p2, *ss2.address(), L1_CHAIN_ID)
        .await
        .unwrap();
    let counter = doubles::CounterL2::deploy(&p2, *bridge2.address(), L1_CHAIN_ID)
        .await
        .unwrap();

    ss1.init(owner, *ss2.address()).confirmed().await;
    ss2.init(*anchor.address(), *ss1.address())
        .confirmed()
        .await;
    bridge1
        .setRemoteBridge(L2_CHAIN_ID, *bridge2.address())
        .confirmed()
        .await;
    bridge2
        .setRemoteBridge(L1_CHAIN_ID, *bridge1.address())
        .confirmed()
        .await;
    ping.setPeer(*counter.address()).confirmed().await;
    counter.setPeer(*ping.address()).confirmed().await;

    // 1. L1: the user's call sends the message; the bridge assigns id, from and source chain.
    let receipt = ping.ping(U256::from(5)).confirmed().await;
    let sent = receipt.decoded_log::<IBridge::MessageSent>().unwrap().data;
    let outbound = sent.message;
    assert_eq!(outbound.id, 1);
    assert_eq!(outbound.from, *ping.address());
    assert_eq!(outbound.srcChainId, L1_CHAIN_ID);
    let signal = receipt
        .decoded_log::<ISignalService::SignalSent>()
        .unwrap()
        .data;
    assert_eq!(
        signal.signal, sent.msgHash,
        "the bridge signals the message hash"
    );
    assert_eq!(
        signal.slot,
        keccak256(
            (
                b"SIGNAL".as_slice(),
                L1_CHAIN_ID.to_be_bytes(),
                bridge1.address().as_slice(),
                sent.msgHash.as_slice()
            )
                .abi_encode_packed()
        )
    );

    // 2. L2: before the anchor carries the slot, the message cannot be processed.
    let l2_bridge = IBridge::new(*bridge2.address(), &p2);
    let process = l2_bridge.processMessage(outbound.clone(), Bytes::new());
    let err = format!("{:?}", process.call().await.err().unwrap());
    assert!(
        err.contains(&alloy::hex::encode(
            doubles::Bridge::B_SIGNAL_NOT_RECEIVED::SELECTOR
        )),
        "{err}"
    );

    // The anchor, sent by the golden-touch account, marks the L1 slot as a fast signal.
    p2.anvil_impersonate_account(GOLDEN_TOUCH).await.unwrap();
    p2.anvil_set_balance(GOLDEN_TOUCH, U256::from(10).pow(U256::from(18)))
        .await
        .unwrap();
    let l1_block = p1
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    let anchor_call = IAnchor::anchorV4WithSignalSlotsCall {
        _checkpoint: Checkpoint {
            blockNumber: u48(l1_block.header.number),
            blockHash: l1_block.header.hash,
            stateRoot: l1_block.header.state_root,
        },
        _signalSlots: vec![signal.slot],
    };
    send(
        &p2_raw,
        TransactionRequest::default()
            .with_from(GOLDEN_TOUCH)
            .with_to(*anchor.address())
            .with_input(anchor_call.abi_encode()),
    )
    .await;

    // 3. L2: a relayer processes it; the counter answers through the L2 bridge from inside the
    //    invocation (sendMessage has no reentrancy guard).
    let receipt = send(
        &p2,
        TransactionRequest::default()
            .with_to(*bridge2.address())
            .with_input(
                IBridge::processMessageCall {
                    _message: outbound,
                    _proof: Bytes::new(),
                }
                .abi_encode(),
            ),
    )
    .await;
    assert_eq!(counter.total().call().await.unwrap(), U256::from(5));
    let answer = receipt.decoded_log::<IBridge::MessageSent>().unwrap().data;
    assert_eq!(answer.message.from, *counter.address());
    assert_eq!(answer.message.srcChainId, L2_CHAIN_ID);
    let answer_slot = receipt
        .decoded_log::<ISignalService::SignalSent>()
        .unwrap()
        .data
        .slot;

    // 4. L1: the inbox (played by the test) saves the L2 checkpoint; the answer is proved
    //    against it with eth_getProof of the L2 signal service at that block.
    let l2_block = p2
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    ss1.saveCheckpoint(doubles::SignalService::Checkpoint {
        blockNumber: u48(l2_block.header.number),
        blockHash: l2_block.header.hash,
        stateRoot: l2_block.header.state_root,
    })
    .confirmed()
    .await;
    let hop = hop_proof(
        &p2,
        L2_CHAIN_ID,
        *ss2.address(),
        answer_slot,
        l2_block.header.number,
        l2_block.header.state_root,
    )
    .await;
    send(
        &p1,
        TransactionRequest::default()
            .with_to(*bridge1.address())
            .with_input(
                IBridge::processMessageCall {
                    _message: answer.message,
                    _proof: hop,
                }
                .abi_encode(),
            ),
    )
    .await;
    assert_eq!(ping.lastAnswer().call().await.unwrap(), U256::from(5));
    assert_eq!(ping.answers().call().await.unwrap(), U256::from(1));
}

#[tokio::test]
async fn bridge_context_lives_in_slots_253_and_254_as_the_node_overrides_it() {
    let l1 = Anvil::start(&AnvilOptions::default()).unwrap();
    let signer: PrivateKeySigner = OWNER_KEY.parse().unwrap();
    let owner = signer.address();
    let p1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(l1.url.clone())
        .erased();
    let ss = doubles::SignalService::deploy(&p1, owner).await.unwrap();
    let bridge = doubles::Bridge::deploy(&p1, owner, *ss.address())
        .await
        .unwrap();

    let msg_hash = B256::repeat_byte(0xab);
    let from = address!("0x00000000000000000000000000000000000000fe");
    let src_chain: u64 = 167_001;
    // Slot 254: `from` in the low 20 bytes, `srcChainId` in the 8 bytes above it.
    let mut packed = [0u8; 32];
    packed[12..].copy_from_slice(from.as_slice());
    packed[4..12].copy_from_slice(&src_chain.to_be_bytes());
    let overrides = StateOverridesBuilder::default()
        .append(
            *bridge.address(),
            AccountOverride::default().with_state_diff([
                (B256::from(U256::from(253)), msg_hash),
                (B256::from(U256::from(254)), B256::from(packed)),
            ]),
        )
        .build();
    let ctx = bridge.context().call().overrides(overrides).await.unwrap();
    assert_eq!(
        (ctx.msgHash, ctx.from, ctx.srcChainId),
        (msg_hash, from, src_chain)
    );
    // Outside a message the context is the placeholder and reading it reverts.
    assert!(bridge.context().call().await.is_err());
}
