//! The L2 anchor transaction: `anchorV4WithSignalSlots` signed by the golden-touch account with
//! the fixed-k ECDSA the driver uses, so node and driver produce the same bytes
//! (protocol.md §5 and Appendix C).

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    primitives::{Address, B256, Bytes, Signature, TxKind, U256, address, b256},
    signers::k256::{
        Scalar,
        ecdsa::hazmat::SignPrimitive,
        elliptic_curve::{PrimeField, ops::Reduce},
    },
    sol_types::SolCall,
};
use bindings::{Checkpoint, IAnchor};

/// The account every anchor tx is sent from.
pub const GOLDEN_TOUCH_ADDRESS: Address = address!("0x0000777735367b36bC9B61C50022d9D0700dB4Ec");
/// Its publicly known key; anchors are valid only because the L2 anchor checks the sender.
pub const GOLDEN_TOUCH_PRIVATE_KEY: B256 =
    b256!("0x92954368afd3caa1f3ce3ead0069c1af414054aefe1ef9aeacc1bf426222ce38");
/// Gas limit of every anchor tx, added on top of the manifest's block gas limit.
pub const ANCHOR_GAS_LIMIT: u64 = 1_000_000;

/// Signs a prehash with the golden-touch key and nonce k = 1 (k = 2 if that gives s = 0),
/// low-s normalised.
pub fn sign_fixed_k(hash: B256) -> Signature {
    // The key is a valid scalar; `reduce` keeps this total without an unwrap.
    let key = <Scalar as Reduce<U256Repr>>::reduce_bytes(&GOLDEN_TOUCH_PRIVATE_KEY.0.into());
    for k in [1u64, 2] {
        if let Ok((sig, Some(recid))) = key.try_sign_prehashed(Scalar::from(k), &hash.0.into()) {
            let r = U256::from_be_slice(&sig.r().to_repr());
            let s = U256::from_be_slice(&sig.s().to_repr());
            return Signature::new(r, s, recid.is_y_odd());
        }
    }
    // s is zero for both k only if z + r·d ≡ 0 for two different r: not a reachable input.
    Signature::new(U256::ZERO, U256::ZERO, false)
}

type U256Repr = alloy::signers::k256::U256;

/// What an anchor tx commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorParams {
    /// L2 chain id.
    pub chain_id: u64,
    /// Golden-touch nonce at the parent block.
    pub nonce: u64,
    /// The block's base fee (the anchor pays exactly that, no tip).
    pub base_fee: u128,
    /// The L2 Anchor contract.
    pub anchor: Address,
    /// The L1 checkpoint being anchored.
    pub checkpoint: Checkpoint,
    /// Fast signals marked received in this block (only the first block of a proposal has any).
    pub signal_slots: Vec<B256>,
}

/// The unsigned anchor tx.
pub fn unsigned(params: &AnchorParams) -> TxEip1559 {
    let input = IAnchor::anchorV4WithSignalSlotsCall {
        _checkpoint: params.checkpoint.clone(),
        _signalSlots: params.signal_slots.clone(),
    }
    .abi_encode();
    TxEip1559 {
        chain_id: params.chain_id,
        nonce: params.nonce,
        gas_limit: ANCHOR_GAS_LIMIT,
        max_fee_per_gas: params.base_fee,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(params.anchor),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(input),
    }
}

/// The signed anchor tx.
pub fn signed(params: &AnchorParams) -> TxEnvelope {
    let tx = unsigned(params);
    let signature = sign_fixed_k(tx.signature_hash());
    TxEnvelope::Eip1559(tx.into_signed(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_k_signature_has_r_equal_to_the_generator_x() {
        let sig = sign_fixed_k(B256::repeat_byte(7));
        // x(1·G) for secp256k1.
        let gx = U256::from_be_bytes(
            b256!("0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").0,
        );
        assert_eq!(sig.r(), gx);
        let recovered = sig
            .recover_address_from_prehash(&B256::repeat_byte(7))
            .unwrap();
        assert_eq!(recovered, GOLDEN_TOUCH_ADDRESS);
    }
}
