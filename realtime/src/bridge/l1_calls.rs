//! L1 calls of a proposal: every L2→L1 message its blocks sent becomes
//! `Bridge.processMessage(message, HopProof)` on L1, right after the propose that saves the
//! checkpoint the proof is checked against (catalyst-reference §7.1 step 8, without §8.4 and
//! §8.7). Messages are paired with their `SignalSent` by hash, and every HopProof is an
//! `eth_getProof` of the L2 SignalService at the proposal's **checkpoint** block, the one
//! block L1 knows the state root of.

use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent, SolValue},
};
use bindings::{HopProof, IBridge, IBridge::MessageSent, ISignalService::SignalSent};
use common::rpc::{RpcEndpoint, RpcError};

use super::message::BridgeMessage;
use crate::proposal_store::ProposalRecord;

/// Where L2→L1 messages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Route {
    /// L2 Bridge.
    pub bridge: Address,
    /// L2 SignalService.
    pub signal_service: Address,
    /// L2 chain id (the messages' source and the HopProof's chain).
    pub l2_chain_id: u64,
    /// L1 chain id (the messages' destination).
    pub l1_chain_id: u64,
}

/// One `Bridge.processMessage` on L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1Call {
    /// The L2→L1 message.
    pub message: BridgeMessage,
    /// `abi.encode(HopProof[1])` against the proposal's checkpoint.
    pub proof: Bytes,
}

impl L1Call {
    /// Its calldata on the L1 bridge.
    pub fn calldata(&self) -> Bytes {
        IBridge::processMessageCall {
            _message: self.message.message.clone(),
            _proof: self.proof.clone(),
        }
        .abi_encode()
        .into()
    }
}

/// Why L1 calls could not be built.
#[derive(Debug, thiserror::Error)]
pub enum L1CallError {
    /// An L2 read failed.
    #[error("L2: {0}")]
    Rpc(#[from] RpcError),
    /// The L2 does not prove what it logged (reorged under us?).
    #[error("{0}")]
    Inconsistent(String),
}

/// An L2→L1 message and the L2 block that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The L2 block.
    pub block: u64,
    /// The message.
    pub message: BridgeMessage,
}

/// The L2→L1 messages that L2 blocks `from..=to` sent and the Multicall processes on L1, in
/// the order the L2 bridge sent them: each paired with its `SignalSent` by hash, and only
/// those with a gas limit (a relayer may only process those: the L1 bridge would revert the
/// whole proposal on one without).
pub async fn messages_in(
    l2: &RpcEndpoint,
    provider: &DynProvider,
    route: &L2Route,
    from: u64,
    to: u64,
) -> Result<Vec<SentMessage>, RpcError> {
    if from > to {
        return Ok(Vec::new());
    }
    let filter = Filter::new()
        .from_block(from)
        .to_block(to)
        .address(vec![route.bridge, route.signal_service])
        .event_signature(vec![
            MessageSent::SIGNATURE_HASH,
            SignalSent::SIGNATURE_HASH,
        ]);
    let logs = l2.call(provider.get_logs(&filter)).await?;
    let mut sent = Vec::new();
    let mut signals = std::collections::HashSet::new();
    for log in logs.iter().filter(|l| !l.removed) {
        if log.address() == route.bridge
            && let Ok(event) = MessageSent::decode_log(&log.inner)
        {
            sent.push((log.block_number.unwrap_or(from), event.data.message));
        } else if log.address() == route.signal_service
            && let Ok(event) = SignalSent::decode_log(&log.inner)
            && event.app == route.bridge
        {
            signals.insert(event.data.signal);
        }
    }
    Ok(sent
        .into_iter()
        .filter(|(_, m)| m.destChainId == route.l1_chain_id && m.srcChainId == route.l2_chain_id)
        .map(|(block, m)| SentMessage {
            block,
            message: BridgeMessage::new(m, route.bridge),
        })
        .filter(|s| signals.contains(&s.message.hash))
        .filter(|s| {
            let relayable = s.message.message.gasLimit != 0;
            if !relayable {
                tracing::debug!(id = s.message.message.id, hash = %s.message.hash,
                    "L2→L1 message without a gas limit: left for its owner to process on L1");
            }
            relayable
        })
        .collect())
}

/// The L1 calls of `record`'s blocks, in the order the L2 bridge sent the messages.
pub async fn discover(
    l2: &RpcEndpoint,
    provider: &DynProvider,
    route: &L2Route,
    record: &ProposalRecord,
) -> Result<Vec<L1Call>, L1CallError> {
    let messages: Vec<BridgeMessage> = messages_in(
        l2,
        provider,
        route,
        record.first_block,
        record.checkpoint.number,
    )
    .await?
    .into_iter()
    .map(|s| s.message)
    .collect();
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let slots: Vec<_> = messages.iter().map(|m| m.slot.0).collect();
    let proof = l2
        .call(
            provider
                .get_proof(route.signal_service, slots)
                .block_id(BlockId::number(record.checkpoint.number)),
        )
        .await?;
    let mut calls = Vec::with_capacity(messages.len());
    for (message, storage) in messages.into_iter().zip(&proof.storage_proof) {
        if storage.value.to_be_bytes::<32>() != message.hash.0 {
            return Err(L1CallError::Inconsistent(format!(
                "L2 block {} does not hold the signal of message {} in the SignalService (reorged?)",
                record.checkpoint.number, message.message.id
            )));
        }
        let hop = HopProof {
            chainId: route.l2_chain_id,
            blockId: record.checkpoint.number,
            rootHash: record.checkpoint.state_root,
            cacheOption: 0,
            accountProof: proof.account_proof.clone(),
            storageProof: storage.proof.clone(),
        };
        calls.push(L1Call {
            message,
            proof: vec![hop].abi_encode().into(),
        });
    }
    Ok(calls)
}
