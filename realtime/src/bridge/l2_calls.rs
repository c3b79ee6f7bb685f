//! The L2 side of user ops: each L1→L2 message becomes an L2 `Bridge.processMessage(message,
//! "")` tx signed by the node's L2 signer, placed after the block's other txs; the empty proof
//! makes the L2 bridge accept the message because the block's anchor carries its slot as a
//! fast signal (catalyst-reference §7.1 steps 3–4).

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    network::TxSignerSync,
    primitives::{Address, Bytes, TxKind, U256},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use bindings::IBridge;
use common::ids::SignalSlot;

use super::{message::BridgeMessage, status::ReadyOp};

/// Gas of a processMessage tx whose message asks for no more than this (Catalyst's figure).
const MIN_PROCESS_GAS: u64 = 3_000_000;
/// What the bridge itself needs on top of the message's own gas limit.
const BRIDGE_OVERHEAD_GAS: u64 = 1_000_000;

/// Gas limit of the L2 tx that processes `message`.
pub fn process_gas(message: &BridgeMessage) -> u64 {
    MIN_PROCESS_GAS.max(u64::from(message.message.gasLimit) + BRIDGE_OVERHEAD_GAS)
}

/// Gas the L2 txs of `ops` need (kept free of pool txs in their block).
pub fn reserved_gas(ops: &[ReadyOp]) -> u64 {
    ops.iter()
        .flat_map(|op| &op.messages)
        .map(process_gas)
        .sum()
}

/// The slots of the ops' messages: the fast signals of the block that carries them.
pub fn fast_signals(ops: &[ReadyOp]) -> Vec<SignalSlot> {
    ops.iter()
        .flat_map(|op| op.messages.iter().map(|m| m.slot))
        .collect()
}

/// What the processMessage txs of one block share.
pub struct L2CallParams<'a> {
    /// The node's L2 signer.
    pub signer: &'a PrivateKeySigner,
    /// L2 chain id.
    pub chain_id: u64,
    /// The signer's nonce for the first tx.
    pub nonce: u64,
    /// The block's base fee (paid in full, no tip, as the anchor does).
    pub base_fee: u64,
    /// The L2 Bridge.
    pub l2_bridge: Address,
}

/// The signed processMessage txs of `ops`, in message order.
pub fn process_message_txs(
    params: &L2CallParams<'_>,
    ops: &[ReadyOp],
) -> Result<Vec<TxEnvelope>, alloy::signers::Error> {
    let mut txs = Vec::new();
    for (n, message) in ops.iter().flat_map(|op| &op.messages).enumerate() {
        let mut tx = TxEip1559 {
            chain_id: params.chain_id,
            nonce: params.nonce + n as u64,
            gas_limit: process_gas(message),
            max_fee_per_gas: u128::from(params.base_fee),
            max_priority_fee_per_gas: 0,
            to: TxKind::Call(params.l2_bridge),
            value: U256::ZERO,
            access_list: Default::default(),
            input: Bytes::from(
                IBridge::processMessageCall {
                    _message: message.message.clone(),
                    _proof: Bytes::new(),
                }
                .abi_encode(),
            ),
        };
        let signature = params.signer.sign_transaction_sync(&mut tx)?;
        txs.push(TxEnvelope::Eip1559(tx.into_signed(signature)));
    }
    Ok(txs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::bridge::status::UserOp;
    use alloy::consensus::{Transaction, transaction::SignerRecoverable};
    use bindings::Message;

    fn ready(id: u64, message_ids: &[u64]) -> ReadyOp {
        let bridge = Address::repeat_byte(0xb1);
        ReadyOp {
            id: common::ids::UserOpId(id),
            op: UserOp {
                submitter: Address::repeat_byte(1),
                calldata: Bytes::new(),
            },
            messages: message_ids
                .iter()
                .map(|&mid| {
                    BridgeMessage::new(
                        Message {
                            id: mid,
                            gasLimit: 2_500_000,
                            srcChainId: 1,
                            destChainId: 2,
                            ..Default::default()
                        },
                        bridge,
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn process_txs_are_signed_in_nonce_order_with_enough_gas() {
        let signer = PrivateKeySigner::random();
        let ops = vec![ready(1, &[1, 2])];
        let params = L2CallParams {
            signer: &signer,
            chain_id: 167_001,
            nonce: 9,
            base_fee: 7,
            l2_bridge: Address::repeat_byte(0x22),
        };
        let txs = process_message_txs(&params, &ops).unwrap();
        assert_eq!(txs.len(), 2);
        for (n, tx) in txs.iter().enumerate() {
            assert_eq!(tx.recover_signer().unwrap(), signer.address());
            assert_eq!(tx.nonce(), 9 + n as u64);
            assert_eq!(tx.gas_limit(), 3_500_000);
            assert_eq!(tx.max_fee_per_gas(), 7);
            let call = IBridge::processMessageCall::abi_decode(tx.input()).unwrap();
            assert_eq!(call._message, ops[0].messages[n].message);
            assert!(call._proof.is_empty(), "the fast-signal path");
        }
        assert_eq!(reserved_gas(&ops), 7_000_000);
    }
}
