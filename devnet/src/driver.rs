//! The driver stand-in's REST API: `POST /preconfBlocks` executes exactly the given tx list on
//! the L2 anvil (anchor first) and returns the header; `POST /reorgStaleBlock`; `GET /status`.
//! Requests that the real driver would refuse or later reorg are refused with a 4xx naming why.
//!
//! Forced inclusions (`isForcedInclusion`): the block's fee recipient is `0x0`, as Raiko's
//! realtime guest proves it (NethermindEth/raiko `lib/src/utils/realtime.rs`). The real driver's
//! `/preconfBlocks` refuses a zero fee recipient (surge-taiko-mono `driver/preconf_blocks/
//! server.go`); here the proof decides, an upstream gap recorded in
//! `docs/research/forced-inclusions.md`.

use std::sync::Arc;

use alloy::{
    consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable},
    eips::{BlockNumberOrTag, Encodable2718, Typed2718},
    hex,
    primitives::{Address, B256, Bytes},
    providers::Provider,
    rlp::Decodable,
    rpc::types::Block,
    sol_types::SolCall,
};
use axum::{
    Json, Router,
    body::Bytes as Body,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use bindings::IAnchor;
use common::{
    anchor::{self, ANCHOR_GAS_LIMIT, AnchorParams, GOLDEN_TOUCH_ADDRESS},
    codec::payload,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{l2::L2Node, l2_rpc::sender_nonces, pool::PooledTx};

type Reply = (StatusCode, Json<Value>);

fn reject(status: StatusCode, why: impl Into<String>) -> Reply {
    (status, Json(json!({"error": why.into()})))
}

fn bad(why: impl Into<String>) -> Reply {
    reject(StatusCode::BAD_REQUEST, why)
}

fn internal(why: impl std::fmt::Display) -> Reply {
    reject(StatusCode::INTERNAL_SERVER_ERROR, why.to_string())
}

/// The driver REST API.
pub fn router(node: Arc<L2Node>) -> Router {
    Router::new()
        .route("/preconfBlocks", post(preconf_blocks))
        .route("/reorgStaleBlock", post(reorg_stale_block))
        .route("/status", get(status))
        .route_layer(axum::middleware::from_fn_with_state(
            node.jwt,
            crate::jwt::require,
        ))
        .with_state(node)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreconfRequest {
    executable_data: ExecutableData,
    end_of_sequencing: bool,
    #[serde(default)]
    is_forced_inclusion: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutableData {
    base_fee_per_gas: u64,
    block_number: u64,
    extra_data: Bytes,
    fee_recipient: Address,
    gas_limit: u64,
    parent_hash: B256,
    timestamp: u64,
    transactions: Bytes,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| bad(format!("request body: {e}")))
}

async fn head(node: &L2Node) -> Result<Block, Reply> {
    node.evm_provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(internal)?
        .ok_or_else(|| internal("the L2 has no head block"))
}

async fn preconf_blocks(State(node): State<Arc<L2Node>>, body: Body) -> Reply {
    let request: PreconfRequest = match parse(&body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let _building = node.build.lock().await;
    let end_of_sequencing = request.end_of_sequencing;
    match build(&node, request).await {
        Ok(header) => {
            if end_of_sequencing && let Ok(hash) = serde_json::from_value(header["hash"].clone()) {
                *node.end_of_sequencing.lock().await = hash;
            }
            (StatusCode::OK, Json(json!({"blockHeader": header})))
        }
        Err(reply) => reply,
    }
}

async fn build(node: &L2Node, request: PreconfRequest) -> Result<Value, Reply> {
    let data = &request.executable_data;
    let parent = head(node).await?;
    if data.parent_hash != parent.header.hash || data.block_number != parent.header.number + 1 {
        return Err(bad(format!(
            "wrong parent: block {} on parentHash {} does not extend the L2 head {} ({})",
            data.block_number, data.parent_hash, parent.header.number, parent.header.hash
        )));
    }
    if data.timestamp < parent.header.timestamp {
        return Err(bad(format!(
            "timestamp {} is before the parent's {}",
            data.timestamp, parent.header.timestamp
        )));
    }
    if data.gas_limit <= ANCHOR_GAS_LIMIT {
        return Err(bad(format!(
            "gasLimit {} leaves nothing after the anchor's {ANCHOR_GAS_LIMIT}",
            data.gas_limit
        )));
    }
    if data.base_fee_per_gas == 0 {
        return Err(bad("baseFeePerGas must be positive"));
    }
    if data.extra_data.len() != 7 || data.extra_data[0] != node.basefee_sharing_pctg {
        return Err(bad(format!(
            "extraData {} must be 7 bytes starting with the basefee-sharing percentage {}",
            data.extra_data, node.basefee_sharing_pctg
        )));
    }
    let txs = decode_tx_list(&data.transactions).map_err(bad)?;
    let (anchor_tx, user_txs) = txs
        .split_first()
        .ok_or_else(|| bad("transactions: empty list, the anchor tx must come first"))?;
    check_anchor(node, anchor_tx, data, &parent)
        .await
        .map_err(|e| bad(format!("bad anchor: {e}")))?;
    for (i, tx) in user_txs.iter().enumerate() {
        if tx.recover_signer().ok() == Some(GOLDEN_TOUCH_ADDRESS) {
            return Err(bad(format!(
                "transactions[{}]: only the first tx may be a golden-touch anchor",
                i + 1
            )));
        }
    }
    execute(node, data, &txs, request.is_forced_inclusion).await
}

/// `transactions` is zlib(RLP list of txs in network encoding).
fn decode_tx_list(compressed: &[u8]) -> Result<Vec<TxEnvelope>, String> {
    let rlp = payload::decompress(compressed).map_err(|e| format!("transactions: {e}"))?;
    let mut slice = rlp.as_slice();
    let txs = Vec::<TxEnvelope>::decode(&mut slice)
        .map_err(|e| format!("transactions: tx list does not decode as RLP: {e}"))?;
    if !slice.is_empty() {
        return Err(format!(
            "transactions: {} bytes after the tx list",
            slice.len()
        ));
    }
    Ok(txs)
}

/// The anchor must be the exact tx the driver would build for this block: golden-touch fixed-k
/// signature, nonce at the parent, the block's base fee, and a checkpoint of a real L1 block.
async fn check_anchor(
    node: &L2Node,
    tx: &TxEnvelope,
    data: &ExecutableData,
    parent: &Block,
) -> Result<(), String> {
    let TxEnvelope::Eip1559(signed) = tx else {
        return Err(format!(
            "transactions[0] is a type-{} tx, the anchor is EIP-1559",
            tx.ty()
        ));
    };
    let sender = tx.recover_signer().map_err(|e| format!("signature: {e}"))?;
    if sender != GOLDEN_TOUCH_ADDRESS {
        return Err(format!("sent by {sender}, not the golden-touch account"));
    }
    if tx.to() != Some(node.anchor) {
        return Err(format!(
            "calls {:?}, not the Anchor {}",
            tx.to(),
            node.anchor
        ));
    }
    let call = IAnchor::anchorV4WithSignalSlotsCall::abi_decode(tx.input()).map_err(|_| {
        format!(
            "input does not start with anchorV4WithSignalSlots (0x{}) or does not decode",
            hex::encode(IAnchor::anchorV4WithSignalSlotsCall::SELECTOR)
        )
    })?;
    let nonce = node
        .evm_provider
        .get_transaction_count(GOLDEN_TOUCH_ADDRESS)
        .block_id(parent.header.hash.into())
        .await
        .map_err(|e| format!("golden-touch nonce: {e}"))?;
    let expected = anchor::signed(&AnchorParams {
        chain_id: node.chain_id,
        nonce,
        base_fee: u128::from(data.base_fee_per_gas),
        anchor: node.anchor,
        checkpoint: call._checkpoint.clone(),
        signal_slots: call._signalSlots.clone(),
    });
    let TxEnvelope::Eip1559(expected) = expected else {
        return Err("internal: anchor builder returned a non-1559 tx".into());
    };
    let (got, want) = (signed.tx(), expected.tx());
    let mismatches = [
        (
            "chainId",
            got.chain_id.to_string(),
            want.chain_id.to_string(),
        ),
        ("nonce", got.nonce.to_string(), want.nonce.to_string()),
        (
            "gasLimit",
            got.gas_limit.to_string(),
            want.gas_limit.to_string(),
        ),
        (
            "maxFeePerGas (must be the block base fee)",
            got.max_fee_per_gas.to_string(),
            want.max_fee_per_gas.to_string(),
        ),
        (
            "maxPriorityFeePerGas",
            got.max_priority_fee_per_gas.to_string(),
            want.max_priority_fee_per_gas.to_string(),
        ),
        ("value", got.value.to_string(), want.value.to_string()),
    ];
    if let Some((field, got, want)) = mismatches.iter().find(|(_, g, w)| g != w) {
        return Err(format!("{field} is {got}, expected {want}"));
    }
    if signed.signature() != expected.signature() {
        return Err("not signed with the golden-touch fixed-k (k = 1) signature".into());
    }
    let checkpoint = &call._checkpoint;
    let number: u64 = checkpoint.blockNumber.to();
    let l1_block = node
        .l1
        .get_block_by_number(number.into())
        .await
        .map_err(|e| format!("reading L1 block {number}: {e}"))?
        .ok_or_else(|| format!("checkpoint block {number} does not exist on L1"))?;
    if l1_block.header.hash != checkpoint.blockHash
        || l1_block.header.state_root != checkpoint.stateRoot
    {
        return Err(format!(
            "checkpoint of L1 block {number} has hash {} / state root {}, L1 has {} / {}",
            checkpoint.blockHash,
            checkpoint.stateRoot,
            l1_block.header.hash,
            l1_block.header.state_root
        ));
    }
    Ok(())
}

async fn anvil(node: &L2Node, method: &str, params: Value) -> Result<Value, Reply> {
    node.evm
        .call(method, params)
        .await
        .map_err(|e| internal(format!("{method}: {e}")))
}

async fn execute(
    node: &L2Node,
    data: &ExecutableData,
    txs: &[TxEnvelope],
    forced: bool,
) -> Result<Value, Reply> {
    let snapshot = anvil(node, "evm_snapshot", json!([])).await?;
    let outcome = try_execute(node, data, txs, forced).await;
    if outcome.is_err() {
        anvil(node, "evm_revert", json!([snapshot])).await?;
        anvil(node, "anvil_dropAllTransactions", json!([])).await?;
    }
    let header = outcome?;
    let hashes: Vec<B256> = txs.iter().map(|t| *t.tx_hash()).collect();
    let senders: Vec<Address> = txs.iter().filter_map(|t| t.recover_signer().ok()).collect();
    let nonces = sender_nonces(node, &senders).await.map_err(internal)?;
    node.pool.lock().await.remove_included(&hashes, &nonces);
    Ok(header)
}

/// A forced inclusion's txs were chosen by whoever paid for it, not by the node: as the
/// engine does when it derives one, a tx that cannot execute is left out instead of failing the
/// block (alethia-reth `crates/block/src/executor.rs`, recoverable non-anchor tx errors).
async fn try_execute(
    node: &L2Node,
    data: &ExecutableData,
    txs: &[TxEnvelope],
    forced: bool,
) -> Result<Value, Reply> {
    anvil(node, "anvil_dropAllTransactions", json!([])).await?;
    anvil(node, "anvil_setCoinbase", json!([data.fee_recipient])).await?;
    anvil(
        node,
        "evm_setBlockGasLimit",
        json!([format!("0x{:x}", data.gas_limit)]),
    )
    .await?;
    anvil(
        node,
        "anvil_setNextBlockBaseFeePerGas",
        json!([format!("0x{:x}", data.base_fee_per_gas)]),
    )
    .await?;
    anvil(node, "anvil_setNextBlockTimestamp", json!([data.timestamp])).await?;
    for (i, tx) in txs.iter().enumerate() {
        let raw = format!("0x{}", hex::encode(tx.encoded_2718()));
        if let Err(e) = node.evm.call("eth_sendRawTransaction", json!([raw])).await {
            if forced && i > 0 {
                tracing::info!(index = i, tx = %tx.tx_hash(), error = %e,
                    "forced inclusion: tx not executable, left out");
                continue;
            }
            return Err(bad(format!(
                "transactions[{i}] ({}) rejected by the L2: {e}",
                tx.tx_hash()
            )));
        }
    }
    anvil(node, "evm_mine", json!([])).await?;
    let mut block = anvil(node, "eth_getBlockByNumber", json!(["latest", false])).await?;
    let included: Vec<B256> =
        serde_json::from_value(block["transactions"].take()).map_err(internal)?;
    if forced {
        check_forced_inclusion(txs, &included)?;
    } else if let Some((i, tx)) = txs
        .iter()
        .enumerate()
        .find(|(i, tx)| included.get(*i) != Some(tx.tx_hash()))
    {
        return Err(bad(format!(
            "transactions[{i}] ({}) was not executable in this block (nonce gap, fee below the base fee, or over the gas limit)",
            tx.tx_hash()
        )));
    }
    if !forced && included.len() != txs.len() {
        return Err(internal(format!(
            "the L2 included {} txs, expected {}",
            included.len(),
            txs.len()
        )));
    }
    if let Some(map) = block.as_object_mut() {
        map.remove("transactions");
        map.remove("uncles");
        map.remove("withdrawals");
    }
    if data.timestamp
        != block["timestamp"]
            .as_str()
            .and_then(|t| u64::from_str_radix(t.trim_start_matches("0x"), 16).ok())
            .unwrap_or_default()
    {
        return Err(internal("the L2 did not take the requested timestamp"));
    }
    Ok(block)
}

/// A forced-inclusion block holds its anchor first and then the inclusion's txs in their order,
/// some possibly left out.
fn check_forced_inclusion(txs: &[TxEnvelope], included: &[B256]) -> Result<(), Reply> {
    if included.first() != txs.first().map(|t| t.tx_hash()) {
        return Err(bad("transactions[0]: the anchor tx was not executable"));
    }
    let mut sent = txs.iter().map(|t| *t.tx_hash());
    match included.iter().find(|hash| !sent.any(|s| s == **hash)) {
        Some(hash) => Err(internal(format!(
            "the L2 included {hash}, which is not in the forced inclusion's order"
        ))),
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReorgRequest {
    new_head_block_number: u64,
}

async fn reorg_stale_block(State(node): State<Arc<L2Node>>, body: Body) -> Reply {
    let request: ReorgRequest = match parse(&body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let _building = node.build.lock().await;
    match reorg(&node, request.new_head_block_number).await {
        Ok(v) => (StatusCode::OK, Json(v)),
        Err(reply) => reply,
    }
}

async fn reorg(node: &L2Node, new_head: u64) -> Result<Value, Reply> {
    let head = head(node).await?;
    if new_head > head.header.number {
        return Err(bad(format!(
            "newHeadBlockNumber {new_head} is above the L2 head {}",
            head.header.number
        )));
    }
    if new_head < node.genesis_number {
        return Err(bad(format!(
            "newHeadBlockNumber {new_head} is below the devnet's genesis block {}",
            node.genesis_number
        )));
    }
    // Txs of removed blocks go back to the pool, as taiko-geth re-injects them; anchors do not.
    let mut orphans = Vec::new();
    for number in new_head + 1..=head.header.number {
        let block = node
            .evm_provider
            .get_block_by_number(number.into())
            .full()
            .await
            .map_err(internal)?
            .ok_or_else(|| internal(format!("L2 block {number} vanished")))?;
        for tx in block.transactions.into_transactions() {
            let sender = tx.inner.signer();
            if sender != GOLDEN_TOUCH_ADDRESS {
                orphans.push(PooledTx {
                    tx: tx.inner.into_inner(),
                    sender,
                });
            }
        }
    }
    let removed = head.header.number - new_head;
    if removed > 0 {
        anvil(node, "anvil_rollback", json!([removed])).await?;
    }
    node.pool.lock().await.reinsert_front(orphans);
    let new_head_block = self::head(node).await?;
    Ok(json!({"newHeadBlockHash": new_head_block.header.hash, "blocksRemoved": removed}))
}

async fn status(State(node): State<Arc<L2Node>>) -> Reply {
    let head = match head(&node).await {
        Ok(h) => h,
        Err(reply) => return reply,
    };
    let eos = *node.end_of_sequencing.lock().await;
    (
        StatusCode::OK,
        Json(json!({
            "highestUnsafeL2PayloadBlockID": head.header.number,
            "endOfSequencingBlockHash": eos,
        })),
    )
}
