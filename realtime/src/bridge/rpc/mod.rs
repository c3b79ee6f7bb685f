//! The `surge_*` JSON-RPC server (jsonrpsee, HTTP and WS on one port): method names, params,
//! results and error codes as Catalyst's (catalyst-reference §4), so existing clients work
//! unchanged. Params are also accepted wrapped in a one-element array, the form an older POC
//! document and a demo script show. Every input gets an answer: a result or a JSON-RPC error
//! that names the problem; the request body and batch sizes are bounded.

use std::net::SocketAddr;

use alloy::{
    primitives::{Address, B256, Bytes},
    providers::{DynProvider, Provider},
};
use bindings::IRealTimeInbox;
use common::{
    faults::{self, FaultPoint},
    ids::UserOpId,
    rpc::RpcEndpoint,
};
use jsonrpsee::{
    RpcModule,
    server::{BatchRequestConfig, Server, ServerConfig, ServerHandle},
    types::{ErrorObjectOwned, Params},
};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;
use tokio::sync::{OnceCell, mpsc};

pub mod return_message;

use super::status::{StatusStore, UserOp, UserOpStatus};
use return_message::{ReturnCall, ReturnSim};

/// `Failed to queue user operation` and other server-side failures.
pub const SERVER_ERROR: i32 = -32000;
/// Unknown user op or tx.
pub const NOT_FOUND: i32 = -32001;
/// Params that do not parse.
pub const INVALID_PARAMS: i32 = -32602;

/// Size limits of the server.
#[derive(Debug, Clone, Copy)]
pub struct RpcLimits {
    /// Largest request body, bytes.
    pub max_body_bytes: u32,
    /// Most calls in one batch.
    pub max_batch: u32,
    /// Most open connections.
    pub max_connections: u32,
}

/// An op accepted and durably Pending, for the simulation.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// Its id.
    pub id: UserOpId,
    /// The op.
    pub op: UserOp,
}

/// Answers `surge_txStatus {txHash}` for txs no user op tracks, from chain state.
pub struct ChainLookup {
    l1: RpcEndpoint,
    l2: RpcEndpoint,
    inbox: Address,
    providers: OnceCell<(DynProvider, DynProvider)>,
}

impl ChainLookup {
    /// Looks up txs on `l2`, and what landed in `inbox` on `l1`.
    pub fn new(l1: RpcEndpoint, l2: RpcEndpoint, inbox: Address) -> Self {
        Self {
            l1,
            l2,
            inbox,
            providers: OnceCell::new(),
        }
    }

    async fn status(&self, hash: B256) -> Result<UserOpStatus, ErrorObjectOwned> {
        let (l1p, l2p) = self
            .providers
            .get_or_try_init(|| async {
                let l1 = self.l1.connect().await.map_err(|e| unavailable("L1", &e))?;
                let l2 = self.l2.connect().await.map_err(|e| unavailable("L2", &e))?;
                Ok::<_, ErrorObjectOwned>((l1, l2))
            })
            .await?;
        let receipt = self
            .l2
            .call(l2p.get_transaction_receipt(hash))
            .await
            .map_err(|e| unavailable("L2", &e))?;
        let Some(receipt) = receipt else {
            let known = self
                .l2
                .call(l2p.get_transaction_by_hash(hash))
                .await
                .map_err(|e| unavailable("L2", &e))?;
            return Err(match known {
                Some(_) => error(NOT_FOUND, "Transaction pending"),
                None => error(NOT_FOUND, "Transaction not found"),
            });
        };
        let number = receipt.block_number.unwrap_or_default();
        if !receipt.status() {
            return Ok(UserOpStatus::Rejected {
                reason: format!(
                    "reverted on L2 in block {number} (receipt status 0): it had no effect"
                ),
            });
        }
        let head = self
            .l1
            .call(
                IRealTimeInbox::new(self.inbox, l1p)
                    .getLastFinalizedBlockHash()
                    .call(),
            )
            .await
            .map_err(|e| unavailable("L1", &e))?;
        let finalized = self
            .l2
            .call(l2p.get_block_by_hash(head))
            .await
            .map_err(|e| unavailable("L2", &e))?
            .map_or(0, |b| b.header.number);
        Ok(if number <= finalized {
            UserOpStatus::Executed
        } else {
            UserOpStatus::ProvingBlock { block_id: number }
        })
    }
}

/// What the methods share.
pub struct RpcState {
    /// Durable statuses.
    pub statuses: StatusStore,
    /// Where accepted ops go for simulation (dropped ops stay Pending for the next start).
    pub accepted: mpsc::UnboundedSender<Accepted>,
    /// Chain fallback of `surge_txStatus {txHash}`; `None` answers "not found".
    pub chain: Option<ChainLookup>,
    /// Why this node takes no user ops, if it takes none.
    pub disabled: Option<String>,
    /// `surge_simulateReturnMessage`, with cross-chain contracts.
    pub returns: Option<ReturnSim>,
}

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

/// A chain (or store) the answer needs did not answer: the caller may try again.
fn unavailable(what: &str, e: &dyn std::fmt::Display) -> ErrorObjectOwned {
    error(
        SERVER_ERROR,
        format!("{what} is unavailable ({e}); try again"),
    )
}

/// Params by name, or the same object as the only element of an array.
fn by_name<T: DeserializeOwned>(params: &Params, shape: &str) -> Result<T, ErrorObjectOwned> {
    let value: serde_json::Value = params.parse().map_err(|e| {
        error(
            INVALID_PARAMS,
            format!("Invalid params: {}; expected {shape}", e.message()),
        )
    })?;
    let value = match value {
        serde_json::Value::Array(mut items) if items.len() == 1 => items.remove(0),
        other => other,
    };
    serde_json::from_value(value).map_err(|e| {
        error(
            INVALID_PARAMS,
            format!("Invalid params: {e}; expected {shape}"),
        )
    })
}

#[derive(Deserialize)]
struct SendUserOp {
    submitter: Address,
    #[serde(deserialize_with = "hex_bytes")]
    calldata: Bytes,
}

/// Bytes as a hex string only (alloy's `Bytes` would also take an array of numbers, which no
/// client means).
fn hex_bytes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
    let raw = String::deserialize(deserializer)?;
    raw.parse()
        .map_err(|e| serde::de::Error::custom(format!("calldata is not 0x-hex: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TxStatusRequest {
    user_op_id: Option<u64>,
    tx_hash: Option<B256>,
}

const SEND_SHAPE: &str = r#"{"submitter": "0x<L1 address>", "calldata": "0x<hex>"}"#;
const TX_STATUS_SHAPE: &str = r#"{"userOpId": <number>} or {"txHash": "0x<32 bytes>"}"#;

const RETURN_SHAPE: &str = r#"[{"from": "0x<L2 address>", "to": "0x<L2 address>", "data": "0x<hex>", "value"?: <number or string>}]"#;

/// What `surge_txStatus` asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatusQuery {
    /// A user op by id (wins when a hash is given too).
    UserOp(u64),
    /// A tx by hash.
    Tx(B256),
}

// The params readers are public so the fuzz targets reach them without a server.

/// Reads `surge_sendUserOp`'s params.
pub fn send_user_op_params(params: &Params) -> Result<UserOp, ErrorObjectOwned> {
    let request: SendUserOp = by_name(params, SEND_SHAPE)?;
    Ok(UserOp {
        submitter: request.submitter,
        calldata: request.calldata,
    })
}

/// Reads `surge_userOpStatus`'s params: `[<user op id>]`.
pub fn user_op_status_params(params: &Params) -> Result<u64, ErrorObjectOwned> {
    params.one().map_err(|e| {
        error(
            INVALID_PARAMS,
            format!("Invalid params: {}; expected [<user op id>]", e.message()),
        )
    })
}

/// Reads `surge_txStatus`'s params.
pub fn tx_status_params(params: &Params) -> Result<TxStatusQuery, ErrorObjectOwned> {
    let request: TxStatusRequest = by_name(params, TX_STATUS_SHAPE)?;
    match (request.user_op_id, request.tx_hash) {
        (Some(id), _) => Ok(TxStatusQuery::UserOp(id)),
        (None, Some(hash)) => Ok(TxStatusQuery::Tx(hash)),
        (None, None) => Err(error(
            INVALID_PARAMS,
            format!("Invalid params: expected {TX_STATUS_SHAPE}"),
        )),
    }
}

/// Reads `surge_simulateReturnMessage`'s params (its `value` is read by [`ReturnCall::value`]).
pub fn return_call_params(params: &Params) -> Result<ReturnCall, ErrorObjectOwned> {
    by_name(params, RETURN_SHAPE)
}

/// A tracked tx's status as JSON, with the node's note (e.g. that it was held back) when it
/// has one.
fn tracked(statuses: &StatusStore, hash: B256) -> Result<Option<Value>, ErrorObjectOwned> {
    let Some(tracked) = statuses
        .get_tx(hash)
        .map_err(|e| error(SERVER_ERROR, format!("Status store unavailable: {e}")))?
    else {
        return Ok(None);
    };
    let mut json = to_json(&tracked.status)?;
    if let (Some(note), Value::Object(fields)) = (tracked.note, &mut json) {
        fields.insert("note".into(), Value::String(note));
    }
    Ok(Some(json))
}

fn to_json(status: &UserOpStatus) -> Result<Value, ErrorObjectOwned> {
    serde_json::to_value(status)
        .map_err(|e| error(SERVER_ERROR, format!("status not encodable: {e}")))
}

fn stored(statuses: &StatusStore, id: u64) -> Result<UserOpStatus, ErrorObjectOwned> {
    statuses
        .get(UserOpId(id))
        .map_err(|e| error(SERVER_ERROR, format!("Status store unavailable: {e}")))?
        .ok_or_else(|| error(NOT_FOUND, "UserOp not found"))
}

/// The `surge_*` methods over `state`.
pub fn module(state: RpcState) -> RpcModule<RpcState> {
    let mut module = RpcModule::new(state);
    let registered = [
        module
            .register_async_method("surge_sendUserOp", |params, state, _| async move {
                let op = send_user_op_params(&params)?;
                if let Some(reason) = &state.disabled {
                    return Err(error(SERVER_ERROR, reason.clone()));
                }
                let id = state.statuses.intake(op.clone()).await.map_err(|e| {
                    error(SERVER_ERROR, format!("Failed to queue user operation: {e}"))
                })?;
                faults::pause(FaultPoint::UserOpStored).await;
                // Durable already: if nobody simulates it now, the next start does.
                let _ = state.accepted.send(Accepted { id, op });
                Ok::<u64, ErrorObjectOwned>(id.0)
            })
            .map(|_| ()),
        module
            .register_method("surge_userOpStatus", |params, state, _| {
                stored(&state.statuses, user_op_status_params(&params)?)
            })
            .map(|_| ()),
        module
            .register_async_method("surge_txStatus", |params, state, _| async move {
                match tx_status_params(&params)? {
                    TxStatusQuery::UserOp(id) => to_json(&stored(&state.statuses, id)?),
                    TxStatusQuery::Tx(hash) => {
                        match (tracked(&state.statuses, hash)?, &state.chain) {
                            (Some(status), _) => Ok(status),
                            (None, Some(chain)) => to_json(&chain.status(hash).await?),
                            (None, None) => Err(error(NOT_FOUND, "Transaction not found")),
                        }
                    }
                }
            })
            .map(|_| ()),
        module
            .register_async_method(
                "surge_simulateReturnMessage",
                |params, state, _| async move {
                    let call = return_call_params(&params)?;
                    match &state.returns {
                        Some(sim) => sim.simulate(call).await,
                        None => Err(error(
                            SERVER_ERROR,
                            state.disabled.clone().unwrap_or_else(|| {
                                "this node runs no cross-chain calls".to_string()
                            }),
                        )),
                    }
                },
            )
            .map(|_| ()),
    ];
    for outcome in registered {
        // Start-up invariant: four distinct literal names.
        #[allow(clippy::expect_used)]
        outcome.expect("surge_* method names are distinct");
    }
    module
}

/// Binds `addr` and serves `module` until the handle is stopped or dropped.
pub async fn serve<C: Send + Sync + 'static>(
    addr: SocketAddr,
    limits: RpcLimits,
    module: RpcModule<C>,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_body_bytes)
        .max_response_body_size(limits.max_body_bytes.max(1 << 20))
        .max_connections(limits.max_connections)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch))
        .build();
    let server = Server::builder().set_config(config).build(addr).await?;
    let bound = server.local_addr()?;
    Ok((bound, server.start(module)))
}
