//! The L2 stand-in's JSON-RPC: the user-facing endpoint (reads proxied to the L2 anvil, raw txs
//! kept in the stand-in's pool) and the JWT-protected auth endpoint with
//! `taikoAuth_txPoolContentWithMinTip` (catalyst-reference §5).

use std::{collections::HashMap, sync::Arc};

use alloy::{
    consensus::{Transaction, TxEnvelope},
    eips::{Decodable2718, Encodable2718},
    hex,
    primitives::{Address, U256},
    providers::Provider,
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

use crate::{
    l2::L2Node,
    pool::{Limits, PooledTx},
    rpc::RpcError,
};

/// The user-facing L2 RPC.
pub fn user_router(node: Arc<L2Node>) -> Router {
    Router::new().route("/", post(user_rpc)).with_state(node)
}

/// The auth RPC (`L2_AUTH_RPC_URL`).
pub fn auth_router(node: Arc<L2Node>) -> Router {
    Router::new()
        .route("/", post(auth_rpc))
        .route_layer(axum::middleware::from_fn_with_state(
            node.jwt,
            crate::jwt::require,
        ))
        .with_state(node)
}

async fn user_rpc(State(node): State<Arc<L2Node>>, body: Bytes) -> Response {
    dispatch(&node, &body, false).await
}

async fn auth_rpc(State(node): State<Arc<L2Node>>, body: Bytes) -> Response {
    dispatch(&node, &body, true).await
}

async fn dispatch(node: &L2Node, body: &[u8], auth: bool) -> Response {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let error = RpcError {
                code: -32700,
                message: format!("parse error: {e}"),
            };
            return (
                StatusCode::OK,
                Json(json!({"jsonrpc": "2.0", "id": null, "error": error.to_json()})),
            )
                .into_response();
        }
    };
    let answer = match request {
        Value::Array(batch) => {
            let mut out = Vec::with_capacity(batch.len());
            for one in &batch {
                out.push(handle(node, one, auth).await);
            }
            Value::Array(out)
        }
        one => handle(node, &one, auth).await,
    };
    Json(answer).into_response()
}

async fn handle(node: &L2Node, request: &Value, auth: bool) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request["method"].as_str().unwrap_or_default();
    let params = request.get("params").cloned().unwrap_or(json!([]));
    let result = match method {
        "eth_sendRawTransaction" => send_raw(node, &params).await,
        "eth_getTransactionCount" if params[1].as_str() == Some("pending") => {
            pending_nonce(node, &params).await
        }
        "eth_getTransactionByHash" => match pooled(node, &params).await {
            Some(tx) => Ok(tx),
            None => return forward(node, request).await,
        },
        "taikoAuth_txPoolContentWithMinTip" if auth => pool_content(node, &params).await,
        "" => Err(RpcError {
            code: -32600,
            message: "invalid request: no method".into(),
        }),
        m if ["anvil_", "evm_", "hardhat_", "taikoAuth_", "engine_"]
            .iter()
            .any(|p| m.starts_with(p)) =>
        {
            Err(RpcError {
                code: -32601,
                message: format!("the method {m} does not exist/is not available"),
            })
        }
        _ => return forward(node, request).await,
    };
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()}),
    }
}

async fn forward(node: &L2Node, request: &Value) -> Value {
    match node.evm.forward(request).await {
        Ok(answer) => answer,
        Err(e) => json!({"jsonrpc": "2.0", "id": request.get("id"), "error": e.to_json()}),
    }
}

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError {
        code: -32602,
        message: message.into(),
    }
}

async fn send_raw(node: &L2Node, params: &Value) -> Result<Value, RpcError> {
    let raw = params[0]
        .as_str()
        .and_then(|s| hex::decode(s).ok())
        .ok_or_else(|| invalid("expected one 0x-hex raw transaction"))?;
    let tx = TxEnvelope::decode_2718(&mut raw.as_slice())
        .map_err(|e| invalid(format!("transaction does not decode: {e}")))?;
    if tx.is_eip4844() {
        return Err(invalid("blob transactions are not accepted on L2"));
    }
    if let Some(chain) = tx.chain_id()
        && chain != node.chain_id
    {
        return Err(invalid(format!(
            "invalid chain id {chain}, this L2 is {}",
            node.chain_id
        )));
    }
    let sender = alloy::consensus::transaction::SignerRecoverable::recover_signer(&tx)
        .map_err(|e| invalid(format!("invalid sender: {e}")))?;
    if sender == common::anchor::GOLDEN_TOUCH_ADDRESS {
        return Err(invalid(
            "golden-touch transactions are only valid as anchors",
        ));
    }
    let provider = &node.evm_provider;
    let nonce = provider
        .get_transaction_count(sender)
        .await
        .map_err(|e| RpcError::server(format!("L2 nonce of {sender}: {e}")))?;
    if tx.nonce() < nonce {
        return Err(RpcError::server(format!(
            "nonce too low: next nonce {nonce}, tx nonce {}",
            tx.nonce()
        )));
    }
    let balance = provider
        .get_balance(sender)
        .await
        .map_err(|e| RpcError::server(format!("L2 balance of {sender}: {e}")))?;
    let cost = U256::from(tx.gas_limit()) * U256::from(tx.max_fee_per_gas()) + tx.value();
    if balance < cost {
        return Err(RpcError::server(format!(
            "insufficient funds for gas * price + value: balance {balance}, tx cost {cost}"
        )));
    }
    let hash = node
        .pool
        .lock()
        .await
        .insert(tx)
        .map_err(RpcError::server)?;
    Ok(json!(hash))
}

async fn pending_nonce(node: &L2Node, params: &Value) -> Result<Value, RpcError> {
    let sender: Address =
        serde_json::from_value(params[0].clone()).map_err(|e| invalid(format!("address: {e}")))?;
    let latest = node
        .evm_provider
        .get_transaction_count(sender)
        .await
        .map_err(|e| RpcError::server(e.to_string()))?;
    let queued = node.pool.lock().await.pending_after(sender, latest);
    Ok(json!(format!("0x{:x}", latest + queued)))
}

async fn pooled(node: &L2Node, params: &Value) -> Option<Value> {
    let hash = serde_json::from_value(params[0].clone()).ok()?;
    let pool = node.pool.lock().await;
    let pooled = pool.get(&hash)?;
    let mut tx = serde_json::to_value(&pooled.tx).ok()?;
    tx["from"] = json!(pooled.sender);
    tx["blockHash"] = Value::Null;
    tx["blockNumber"] = Value::Null;
    tx["transactionIndex"] = Value::Null;
    Some(tx)
}

/// Latest-state nonces of every sender in the pool.
pub async fn sender_nonces(
    node: &L2Node,
    senders: &[Address],
) -> Result<HashMap<Address, u64>, RpcError> {
    let mut nonces = HashMap::new();
    for sender in senders {
        let nonce = node
            .evm_provider
            .get_transaction_count(*sender)
            .await
            .map_err(|e| RpcError::server(format!("L2 nonce of {sender}: {e}")))?;
        nonces.insert(*sender, nonce);
    }
    Ok(nonces)
}

fn number(params: &Value, index: usize, name: &str) -> Result<u64, RpcError> {
    let v = &params[index];
    v.as_u64()
        .or_else(|| {
            v.as_str()
                .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        })
        .ok_or_else(|| invalid(format!("param {index} ({name}) must be a number, got {v}")))
}

async fn pool_content(node: &L2Node, params: &Value) -> Result<Value, RpcError> {
    let _beneficiary: Address = serde_json::from_value(params[0].clone())
        .map_err(|e| invalid(format!("param 0 (beneficiary): {e}")))?;
    let limits = Limits {
        base_fee: u128::from(number(params, 1, "baseFee")?),
        max_gas: number(params, 2, "blockMaxGasLimit")?,
        max_bytes: number(params, 3, "maxBytesPerTxList")?,
        min_tip: u128::from(number(params, 6, "minTip")?),
    };
    if number(params, 5, "maxTransactionsLists")? == 0 {
        return Ok(Value::Null);
    }
    let senders = node.pool.lock().await.senders();
    let nonces = sender_nonces(node, &senders).await?;
    let selected: Vec<PooledTx> = node.pool.lock().await.select(limits, &nonces);
    if selected.is_empty() {
        return Ok(Value::Null);
    }
    let gas: u64 = selected.iter().map(|p| p.tx.gas_limit()).sum();
    let bytes: usize = selected.iter().map(|p| p.tx.encode_2718_len()).sum();
    let list: Vec<Value> = selected
        .iter()
        .filter_map(|p| serde_json::to_value(&p.tx).ok())
        .collect();
    Ok(json!([{"TxList": list, "EstimatedGasUsed": gas, "BytesLength": bytes}]))
}
