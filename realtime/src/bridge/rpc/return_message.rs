//! `surge_simulateReturnMessage`: the L1 answer an L2 call would get, for users who build an
//! L2→L1→L2 tx (catalyst-reference §4). The call is traced on L2 for every message it sends to
//! L1; their processing is simulated on L1 the way the node will run it: after everything the
//! node has already committed to run before it (proposals not on L1 yet, the user ops waiting
//! for a block, the pool's txs ahead of it), in one combined run, as the block builder plans
//! it ([`crate::bridge::plan`]). The answer says what it assumed, so a client can tell when the
//! prediction may have gone stale and ask again.

use std::str::FromStr;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use bindings::IRealTimeInbox;
use common::{
    engine::{EngineClient, PoolQuery},
    rpc::RpcEndpoint,
};
use jsonrpsee::types::ErrorObjectOwned;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::{INVALID_PARAMS, NOT_FOUND, SERVER_ERROR, error, unavailable};
use crate::{
    bridge::{
        ahead,
        callback::L1Side,
        config::CrossChainContracts,
        message::BridgeMessage,
        outbound::{self, Reading},
        plan::{self, PlanInput},
        returns::{self, Candidate, ReturnRoute},
        status::StatusStore,
    },
    proposal_store::ProposalStore,
};

/// No answer from L1 (Catalyst's code; a call without `sendMessage` gets [`NOT_FOUND`]).
pub const NO_ANSWER: i32 = -32002;
/// Most waiting ops put before the answer.
const MAX_PREFIX_OPS: usize = 64;
/// Gas of the pool txs considered ahead of the call (a few blocks' worth).
const POOL_GAS_AHEAD: u64 = 240_000_000;
/// Bytes of the pool txs considered ahead of the call.
const POOL_BYTES_AHEAD: u64 = 1 << 20;

/// The call whose answer is asked for.
#[derive(Debug, Deserialize)]
pub struct ReturnCall {
    from: Address,
    to: Address,
    #[serde(alias = "input")]
    data: Bytes,
    #[serde(default)]
    value: Option<Value>,
}

/// What the method needs; the chain facts are read on first use.
pub struct ReturnSim {
    /// L1 endpoint.
    pub l1: RpcEndpoint,
    /// L2 endpoint.
    pub l2: RpcEndpoint,
    /// The RealTimeInbox (for the L1 SignalService).
    pub inbox: Address,
    /// Cross-chain contracts.
    pub contracts: CrossChainContracts,
    /// The proposer EOA.
    pub proposer: Address,
    /// Ops waiting for a block.
    pub statuses: StatusStore,
    /// Unlanded proposals and their ops.
    pub proposals: ProposalStore,
    /// The L2 pool, in the order blocks take its txs.
    pub engine: EngineClient,
    /// Providers and the route, once read.
    pub facts: OnceCell<(DynProvider, DynProvider, ReturnRoute)>,
}

impl ReturnCall {
    /// The call's value: a JSON number, a decimal string or a 0x-hex string (absent: zero).
    pub fn value(&self) -> Result<U256, ErrorObjectOwned> {
        parse_value(&self.value)
    }
}

/// A value given as a JSON number, a decimal string or a 0x-hex string.
fn parse_value(value: &Option<Value>) -> Result<U256, ErrorObjectOwned> {
    let invalid = |v: &Value| {
        error(
            INVALID_PARAMS,
            format!("Invalid params: value {v} is not a number, a decimal or a 0x-hex string"),
        )
    };
    match value {
        None | Some(Value::Null) => Ok(U256::ZERO),
        Some(Value::Number(n)) => n.as_u64().map(U256::from).ok_or_else(|| invalid(&json!(n))),
        Some(Value::String(s)) => U256::from_str(s).map_err(|_| invalid(&json!(s))),
        Some(other) => Err(invalid(other)),
    }
}

/// A message as Catalyst's clients read it: numbers for ids and chain ids, a decimal string
/// for the value, checksummed addresses, 0x-hex data.
pub fn message_json(m: &BridgeMessage) -> Value {
    let msg = &m.message;
    json!({
        "id": msg.id,
        "fee": msg.fee,
        "gasLimit": msg.gasLimit,
        "from": msg.from.to_checksum(None),
        "srcChainId": msg.srcChainId,
        "srcOwner": msg.srcOwner.to_checksum(None),
        "destChainId": msg.destChainId,
        "destOwner": msg.destOwner.to_checksum(None),
        "to": msg.to.to_checksum(None),
        "value": msg.value.to_string(),
        "data": msg.data.to_string(),
    })
}

impl ReturnSim {
    async fn facts(&self) -> Result<&(DynProvider, DynProvider, ReturnRoute), ErrorObjectOwned> {
        self.facts
            .get_or_try_init(|| async {
                let l1 = self.l1.connect().await.map_err(|e| unavailable("L1", &e))?;
                let l2 = self.l2.connect().await.map_err(|e| unavailable("L2", &e))?;
                let config = self
                    .l1
                    .call(IRealTimeInbox::new(self.inbox, &l1).getConfig().call())
                    .await
                    .map_err(|e| unavailable("L1", &e))?;
                let l1_chain_id = self
                    .l1
                    .call(l1.get_chain_id())
                    .await
                    .map_err(|e| unavailable("L1", &e))?;
                let l2_chain_id = self
                    .l2
                    .call(l2.get_chain_id())
                    .await
                    .map_err(|e| unavailable("L2", &e))?;
                let route = ReturnRoute {
                    l1: L1Side {
                        multicall: self.contracts.multicall,
                        proposer: self.proposer,
                        bridge: self.contracts.l1_bridge,
                        signal_service: config.signalService,
                        l2_bridge: self.contracts.l2_bridge,
                        l2_chain_id,
                    },
                    l1_chain_id,
                    l2_signal_service: self.contracts.l2_signal_service,
                };
                Ok((l1, l2, route))
            })
            .await
    }

    /// The pool's txs in the order the next blocks take them, traced like the block
    /// builder traces them.
    async fn pool_ahead(
        &self,
        l2: &DynProvider,
        route: &ReturnRoute,
    ) -> Result<Vec<Candidate>, ErrorObjectOwned> {
        let pool = self
            .engine
            .pool_content(&PoolQuery {
                beneficiary: self.proposer,
                base_fee: 0,
                max_gas: POOL_GAS_AHEAD,
                max_bytes: POOL_BYTES_AHEAD,
            })
            .await
            .map_err(|e| unavailable("the L2 pool", &e))?;
        returns::classify_all((&self.l2, l2), route, &pool)
            .await
            .map_err(|e| error(SERVER_ERROR, format!("L2 trace failed: {e}")))
    }

    /// `{message, signalSlot}` of the first answer, `messages`: every answer in order, and
    /// `assumed`: what the prediction ran after.
    pub async fn simulate(&self, call: ReturnCall) -> Result<Value, ErrorObjectOwned> {
        let value = call.value()?;
        let (l1, l2, route) = self.facts().await?;
        let request = TransactionRequest::default()
            .with_from(call.from)
            .with_to(call.to)
            .with_input(call.data)
            .with_value(value);
        let frame = outbound::trace(&self.l2, l2, request, None)
            .await
            .map_err(|e| error(SERVER_ERROR, format!("L2 trace failed: {e}")))?;
        let sent = outbound::read(&frame, &route.l2_side(), Reading::Lenient).sent;
        if sent.is_empty() {
            return Err(error(
                NOT_FOUND,
                "the call sends no message to L1 through the L2 bridge (no sendMessage found)",
            ));
        }
        let l2_head = self
            .l2
            .call(l2.get_block_number())
            .await
            .map_err(|e| unavailable("L2", &e))?;
        let mut candidates = self.pool_ahead(l2, route).await?;
        candidates.push(Candidate::probe(sent));
        let ahead = ahead::read(
            (&self.l1, l1),
            (&self.l2, l2),
            self.inbox,
            route,
            &self.proposals,
            l2_head,
        )
        .await
        .map_err(|e| error(SERVER_ERROR, format!("reading what runs on L1 first: {e}")))?;
        let ops = self.statuses.ready_ops(MAX_PREFIX_OPS).map_err(|e| {
            error(
                SERVER_ERROR,
                format!("the node's store is unavailable: {e}"),
            )
        })?;
        let input = PlanInput {
            route,
            ahead: &ahead,
            ops,
            candidates: &candidates,
            allowed: true,
            give_up: &Default::default(),
            op_gas: u64::MAX,
        };
        let plan = plan::plan((&self.l1, l1), input)
            .await
            .map_err(|e| error(SERVER_ERROR, format!("L1 callback simulation failed: {e}")))?;
        if let Some(why) = &plan.blocked {
            return Err(error(
                SERVER_ERROR,
                format!("L1 callback simulation failed: {why}"),
            ));
        }
        let mine = plan.block.probe_messages(&candidates);
        if mine.is_empty() {
            return Err(error(
                NO_ANSWER,
                "the call's messages to L1 carry no gas limit: the node does not relay them, so L1 sends no answer in the same transaction",
            ));
        }
        let answers: Vec<&BridgeMessage> = mine.iter().flat_map(|&i| &plan.answers[i]).collect();
        let Some(first) = answers.first() else {
            return Err(error(
                NO_ANSWER,
                "processing the call's messages on L1 sends no message back to L2",
            ));
        };
        let all: Vec<Value> = answers
            .iter()
            .map(|m| json!({"message": message_json(m), "signalSlot": m.slot.0.to_string()}))
            .collect();
        let probe = candidates.len() - 1;
        let txs_ahead = plan.block.included.iter().filter(|&&i| i != probe).count();
        Ok(json!({
            "message": message_json(first),
            "signalSlot": first.slot.0.to_string(),
            "messages": all,
            "assumed": {
                "l1Block": ahead.l1_block,
                "l2Head": l2_head,
                "unlandedCalls": ahead.calls.len(),
                "userOpsAhead": ahead.user_ops + plan.ops.len(),
                "l2TxsAhead": txs_ahead,
                "l2TxsHeldBack": plan.held(&candidates).len(),
                "l1MessagesAhead": ahead.messages() + mine[0],
            },
        }))
    }
}
