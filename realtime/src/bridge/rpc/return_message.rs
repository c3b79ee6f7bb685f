//! `surge_simulateReturnMessage`: the L1 answer an L2 call would get, for users who build an
//! L2→L1→L2 tx (catalyst-reference §4). The call is traced on L2 for every message it sends to
//! L1; their processing is simulated on L1 after the user ops that will run first (those of
//! unlanded proposals and those waiting for a block), as the block builder will predict it.

use std::str::FromStr;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use bindings::{Call, IRealTimeInbox};
use common::rpc::RpcEndpoint;
use jsonrpsee::types::ErrorObjectOwned;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::{INVALID_PARAMS, NOT_FOUND, SERVER_ERROR, error, unavailable};
use crate::{
    bridge::{
        callback::{self, Answers, L1Side},
        config::CrossChainContracts,
        message::BridgeMessage,
        outbound::{self, BridgeSide, Reading},
        status::StatusStore,
    },
    proposal_store::ProposalStore,
};

/// No answer from L1 (Catalyst's code; a call without `sendMessage` gets [`NOT_FOUND`]).
pub const NO_ANSWER: i32 = -32002;
/// Most waiting ops put before the answer.
const MAX_PREFIX_OPS: usize = 64;

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
    /// Providers and the route, once read.
    pub facts: OnceCell<(DynProvider, DynProvider, L1Side, u64)>,
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
    async fn facts(&self) -> Result<&(DynProvider, DynProvider, L1Side, u64), ErrorObjectOwned> {
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
                let side = L1Side {
                    multicall: self.contracts.multicall,
                    proposer: self.proposer,
                    bridge: self.contracts.l1_bridge,
                    signal_service: config.signalService,
                    l2_bridge: self.contracts.l2_bridge,
                    l2_chain_id,
                };
                Ok((l1, l2, side, l1_chain_id))
            })
            .await
    }

    /// The user ops that run on L1 before the answer: unlanded proposals', then waiting ones.
    fn prefix(&self) -> Result<Vec<Call>, ErrorObjectOwned> {
        let store = |e: &dyn std::fmt::Display| {
            error(
                SERVER_ERROR,
                format!("the node's store is unavailable: {e}"),
            )
        };
        let unlanded = self.proposals.all().map_err(|e| store(&e))?;
        let waiting = self
            .statuses
            .ready_ops(MAX_PREFIX_OPS)
            .map_err(|e| store(&e))?;
        // A landed proposal stays in the store a moment after its ops are Executed.
        let in_flight = |id| {
            self.statuses
                .get(id)
                .is_ok_and(|s| s.is_some_and(|s| !s.is_final()))
        };
        Ok(unlanded
            .iter()
            .flat_map(|p| p.user_ops.iter())
            .filter(|op| in_flight(op.id))
            .chain(waiting.iter())
            .map(|op| op.op.call())
            .collect())
    }

    /// `{message, signalSlot}` of the first answer, and `messages`: every answer in order.
    pub async fn simulate(&self, call: ReturnCall) -> Result<Value, ErrorObjectOwned> {
        let value = parse_value(&call.value)?;
        let (l1, l2, side, l1_chain_id) = self.facts().await?;
        let request = TransactionRequest::default()
            .with_from(call.from)
            .with_to(call.to)
            .with_input(call.data)
            .with_value(value);
        let frame = outbound::trace(&self.l2, l2, request, None)
            .await
            .map_err(|e| error(SERVER_ERROR, format!("L2 trace failed: {e}")))?;
        let l2_side = BridgeSide {
            bridge: side.l2_bridge,
            dest_chain_id: *l1_chain_id,
            src_chain_id: *l1_chain_id,
        };
        let sent: Vec<BridgeMessage> = outbound::read(&frame, &l2_side, Reading::Lenient)
            .sent
            .into_iter()
            .map(|m| BridgeMessage::new(m, side.l2_bridge))
            .collect();
        if sent.is_empty() {
            return Err(error(
                NOT_FOUND,
                "the call sends no message to L1 through the L2 bridge (no sendMessage found)",
            ));
        }
        let relayed: Vec<BridgeMessage> = sent
            .into_iter()
            .filter(|m| m.message.gasLimit != 0)
            .collect();
        let prefix = self.prefix()?;
        let answers = callback::answers(&self.l1, l1, side, &prefix, &relayed)
            .await
            .map_err(|e| error(SERVER_ERROR, format!("L1 callback simulation failed: {e}")))?;
        let answers: Vec<BridgeMessage> = match answers {
            Answers::Each(each) => each.into_iter().flatten().collect(),
            Answers::Reverted(why) => {
                return Err(error(
                    SERVER_ERROR,
                    format!("L1 callback simulation failed: {why}"),
                ));
            }
        };
        let Some(first) = answers.first() else {
            return Err(error(
                NO_ANSWER,
                "processing the call's messages on L1 sends no message back to L2 (messages without a gas limit are not relayed)",
            ));
        };
        let all: Vec<Value> = answers
            .iter()
            .map(|m| json!({"message": message_json(m), "signalSlot": m.slot.0.to_string()}))
            .collect();
        Ok(json!({
            "message": message_json(first),
            "signalSlot": first.slot.0.to_string(),
            "messages": all,
        }))
    }
}
