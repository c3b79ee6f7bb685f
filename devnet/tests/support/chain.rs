//! Building L2 blocks and proposals by hand against a running devnet, the way the node will.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{
        BlockNumberOrTag, Encodable2718, eip4844::builder::SidecarBuilder,
        eip7594::BlobTransactionSidecarEip7594,
    },
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rlp::Encodable,
};
use bindings::Checkpoint;
use common::{
    anchor::{self, ANCHOR_GAS_LIMIT, AnchorParams, GOLDEN_TOUCH_ADDRESS},
    codec::{
        blob::KonaBlobCoder,
        manifest::{BlockManifest, DerivationSourceManifest},
        payload,
    },
};
use devnet::{
    accounts,
    deploy::BASEFEE_SHARING_PCTG,
    network::{Devnet, L2_CHAIN_ID},
};
use serde_json::{Value, json};

/// Base fee every hand-built block uses.
pub const BASE_FEE: u64 = 25_000_000;
/// Block gas limit without the anchor.
pub const GAS_LIMIT: u64 = 30_000_000;

/// A devnet with 1 s L1 slots and the given Raiko delay; the temp dir holds its JWT secret.
pub async fn start(proof_delay: std::time::Duration) -> (Devnet, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(&devnet::network::Options {
        l1_block_time: 1,
        jwt_path: dir.path().join("jwt.hex"),
        proof_delay,
        raiko_api_key: None,
    })
    .await
    .unwrap();
    (devnet, dir)
}

/// `eth_getTransactionCount(sender, "pending")` through the L2 stand-in (counts its pool).
pub async fn pending_nonce(devnet: &Devnet, sender: Address) -> u64 {
    let (_, reply) = rpc(
        &devnet.urls.l2,
        None,
        "eth_getTransactionCount",
        json!([sender, "pending"]),
    )
    .await;
    u64::from_str_radix(
        reply["result"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap()
}

/// A read-only provider.
pub fn provider(url: &url::Url) -> DynProvider {
    ProviderBuilder::new().connect_http(url.clone()).erased()
}

/// A bearer token for the auth RPC and driver.
pub fn bearer(devnet: &Devnet) -> String {
    common::jwt::JwtAuth::from_file(&devnet.jwt_path)
        .unwrap()
        .bearer()
}

/// A signed L2 transfer from a dev key.
pub fn transfer(key: &str, nonce: u64, to: Address) -> TxEnvelope {
    let mut tx = TxEip1559 {
        chain_id: L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 1_000_000_000,
        max_priority_fee_per_gas: 1_000_000,
        to: TxKind::Call(to),
        value: U256::from(1),
        ..Default::default()
    };
    let signature = accounts::signer(key)
        .sign_transaction_sync(&mut tx)
        .unwrap();
    TxEnvelope::Eip1559(tx.into_signed(signature))
}

/// JSON-RPC call returning the whole response object.
pub async fn rpc(url: &url::Url, auth: Option<&str>, method: &str, params: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url.clone()).json(&json!({
        "jsonrpc": "2.0", "id": 1, "method": method, "params": params
    }));
    if let Some(token) = auth {
        request = request.header("authorization", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The L1 checkpoint a block anchors to: the L1 head's parent, so `blockhash` sees it.
pub async fn l1_anchor(devnet: &Devnet) -> Checkpoint {
    let l1 = provider(&devnet.urls.l1);
    let head = l1.get_block_number().await.unwrap();
    let block = l1
        .get_block_by_number(head.saturating_sub(1).into())
        .await
        .unwrap()
        .unwrap();
    Checkpoint {
        blockNumber: alloy::primitives::Uint::from(block.header.number),
        blockHash: block.header.hash,
        stateRoot: block.header.state_root,
    }
}

/// What a hand-built block carries.
pub struct BlockPlan {
    /// The L1 checkpoint in the anchor.
    pub anchor: Checkpoint,
    /// Fast signals in the anchor.
    pub signal_slots: Vec<B256>,
    /// Txs after the anchor.
    pub txs: Vec<TxEnvelope>,
    /// Coinbase.
    pub coinbase: Address,
}

/// The `preconfBlocks` body for the next block on the L2 head, and the block's manifest entry.
pub async fn preconf_request(devnet: &Devnet, plan: &BlockPlan) -> (Value, BlockManifest) {
    let l2 = provider(&devnet.urls.l2);
    let parent = l2
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    let nonce = l2
        .get_transaction_count(GOLDEN_TOUCH_ADDRESS)
        .block_id(parent.header.hash.into())
        .await
        .unwrap();
    let anchor_tx = anchor::signed(&AnchorParams {
        chain_id: L2_CHAIN_ID,
        nonce,
        base_fee: u128::from(BASE_FEE),
        anchor: devnet.contracts.anchor,
        checkpoint: plan.anchor.clone(),
        signal_slots: plan.signal_slots.clone(),
    });
    let mut all = vec![anchor_tx];
    all.extend(plan.txs.iter().cloned());
    let timestamp = parent.header.timestamp.max(common::fork::unix_now());
    let body = json!({
        "executableData": {
            "baseFeePerGas": BASE_FEE,
            "blockNumber": parent.header.number + 1,
            "extraData": format!("0x{:02x}000000000000", BASEFEE_SHARING_PCTG),
            "feeRecipient": plan.coinbase,
            "gasLimit": GAS_LIMIT + ANCHOR_GAS_LIMIT,
            "parentHash": parent.header.hash,
            "timestamp": timestamp,
            "transactions": Bytes::from(tx_list(&all)),
        },
        "endOfSequencing": false,
        "isForcedInclusion": false,
    });
    let manifest = BlockManifest {
        timestamp,
        coinbase: plan.coinbase,
        anchor_block_number: plan.anchor.blockNumber.to(),
        gas_limit: GAS_LIMIT,
        transactions: plan.txs.clone(),
    };
    (body, manifest)
}

/// zlib(RLP list of txs).
pub fn tx_list(txs: &[TxEnvelope]) -> Vec<u8> {
    let mut rlp = Vec::new();
    txs.to_vec().encode(&mut rlp);
    payload::compress(&rlp)
}

/// POSTs to the driver; returns (HTTP status, body).
pub async fn driver(devnet: &Devnet, path: &str, body: &Value, auth: bool) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(devnet.urls.l2_driver.join(path).unwrap())
        .json(body);
    if auth {
        request = request.header("authorization", bearer(devnet));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The 7594 sidecar of a manifest's plaintext payload.
pub fn sidecar(manifest: &DerivationSourceManifest) -> BlobTransactionSidecarEip7594 {
    SidecarBuilder::<KonaBlobCoder>::from_slice(&manifest.plaintext_payload())
        .build_7594()
        .unwrap()
}

/// The Raiko realtime request for blocks `numbers` ending at `checkpoint`.
pub fn raiko_request(
    numbers: &[u64],
    max_anchor: u64,
    last_finalized: B256,
    signal_slots: &[B256],
    car: &BlobTransactionSidecarEip7594,
    checkpoint: &Checkpoint,
) -> Value {
    json!({
        "l2_block_numbers": numbers,
        "proof_type": "sp1",
        "max_anchor_block_number": max_anchor,
        "last_finalized_block_hash": last_finalized,
        "basefee_sharing_pctg": BASEFEE_SHARING_PCTG,
        "signal_slots": signal_slots,
        "sources": [{"isForcedInclusion": false, "blobSlice": {
            "blobHashes": car.versioned_hashes().collect::<Vec<_>>(), "offset": 0, "timestamp": 0}}],
        "blobs": car.blobs.iter().map(|b| Bytes::from(b.to_vec())).collect::<Vec<_>>(),
        "checkpoint": {
            "block_number": checkpoint.blockNumber.to::<u64>(),
            "block_hash": checkpoint.blockHash,
            "state_root": checkpoint.stateRoot,
        },
        "blob_proof_type": "proof_of_equivalence",
    })
}

/// POSTs a Raiko request once.
pub async fn raiko_once(devnet: &Devnet, request: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(devnet.urls.raiko.join("v3/proof/batch/realtime").unwrap())
        .json(request)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The same request as a status-only poll (no sources, no blobs), as Raiko's clients poll.
pub fn status_only(request: &Value) -> Value {
    let mut poll = request.clone();
    poll["sources"] = serde_json::json!([]);
    poll["blobs"] = serde_json::json!([]);
    poll
}

/// Submits in full, then polls status-only like the node does, until a proof or an error
/// (bounded).
pub async fn raiko_prove(devnet: &Devnet, request: &Value) -> Result<Bytes, String> {
    let mut seen = Vec::new();
    let poll = status_only(request);
    for i in 0..200 {
        let (_, body) = raiko_once(devnet, if i == 0 { request } else { &poll }).await;
        if body["status"] == "error" {
            return Err(body["message"].as_str().unwrap_or_default().to_string());
        }
        if let Some(proof) = body["data"]["proof"]["proof"].as_str() {
            assert!(
                seen.contains(&"registered".to_string()),
                "no registered before the proof: {seen:?}"
            );
            return Ok(alloy::hex::decode(proof).unwrap().into());
        }
        seen.push(
            body["data"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(format!("no proof after 200 polls: {seen:?}"))
}

/// The raw 2718 bytes of a tx as 0x-hex.
pub fn raw(tx: &TxEnvelope) -> String {
    format!("0x{}", alloy::hex::encode(tx.encoded_2718()))
}
