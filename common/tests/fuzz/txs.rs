//! Signed transactions of every type the manifest and the pool may carry, with field values at
//! the edges (zero, one, the type's maximum) as often as in between. The signatures are not
//! valid ones: decoders read `r`, `s` and the parity without checking them.

use alloy::{
    consensus::{
        SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip4844Variant, TxEip7702,
        TxEnvelope, TxLegacy,
    },
    eips::{
        eip2930::{AccessList, AccessListItem},
        eip7702::{Authorization, SignedAuthorization},
    },
    primitives::{Address, B256, Bytes, Signature, TxKind, U256},
};
use proptest::{collection::vec, prelude::*};

/// A `u64` at the edges or anywhere.
pub fn u64_edge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        0..100_000u64,
        any::<u64>()
    ]
}

/// A `u128` at the edges or anywhere.
pub fn u128_edge() -> impl Strategy<Value = u128> {
    prop_oneof![
        Just(0u128),
        Just(u128::MAX),
        0..10_000_000_000u128,
        any::<u128>()
    ]
}

/// A `U256` at the edges or anywhere.
pub fn u256_edge() -> impl Strategy<Value = U256> {
    prop_oneof![
        Just(U256::ZERO),
        Just(U256::MAX),
        u64_edge().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
    ]
}

/// An address: zero, a repeated byte, or any.
pub fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        Just(Address::ZERO),
        any::<u8>().prop_map(Address::repeat_byte),
        any::<[u8; 20]>().prop_map(Address::from),
    ]
}

fn hash() -> impl Strategy<Value = B256> {
    prop_oneof![Just(B256::ZERO), any::<[u8; 32]>().prop_map(B256::from)]
}

/// Call data: empty, short, or a few hundred bytes.
pub fn input() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        2 => Just(Bytes::new()),
        3 => vec(any::<u8>(), 1..64).prop_map(Bytes::from),
        1 => vec(any::<u8>(), 64..400).prop_map(Bytes::from),
    ]
}

fn kind() -> impl Strategy<Value = TxKind> {
    prop_oneof![Just(TxKind::Create), address().prop_map(TxKind::Call)]
}

fn access_list() -> impl Strategy<Value = AccessList> {
    let item = (address(), vec(hash(), 0..3)).prop_map(|(address, storage_keys)| AccessListItem {
        address,
        storage_keys,
    });
    vec(item, 0..3).prop_map(AccessList)
}

fn signature() -> impl Strategy<Value = Signature> {
    (u256_edge(), u256_edge(), any::<bool>()).prop_map(|(r, s, odd)| Signature::new(r, s, odd))
}

/// The fee fields every typed tx shares.
#[derive(Debug, Clone)]
struct Common {
    chain_id: u64,
    nonce: u64,
    gas_limit: u64,
    max_fee: u128,
    tip: u128,
    value: U256,
    input: Bytes,
    access_list: AccessList,
}

fn common() -> BoxedStrategy<Common> {
    (
        u64_edge(),
        u64_edge(),
        u64_edge(),
        u128_edge(),
        u128_edge(),
        u256_edge(),
        input(),
        access_list(),
    )
        .prop_map(
            |(chain_id, nonce, gas_limit, max_fee, tip, value, input, access_list)| Common {
                chain_id,
                nonce,
                gas_limit,
                max_fee,
                tip,
                value,
                input,
                access_list,
            },
        )
        .boxed()
}

fn authorization() -> impl Strategy<Value = SignedAuthorization> {
    (
        u256_edge(),
        address(),
        u64_edge(),
        any::<u8>(),
        u256_edge(),
        u256_edge(),
    )
        .prop_map(|(chain_id, address, nonce, parity, r, s)| {
            let auth = Authorization {
                chain_id,
                address,
                nonce,
            };
            SignedAuthorization::new_unchecked(auth, parity, r, s)
        })
}

/// A legacy (with or without a chain id), EIP-2930, EIP-1559, EIP-4844 or EIP-7702 tx.
pub fn tx() -> BoxedStrategy<TxEnvelope> {
    let legacy = (common(), any::<bool>(), kind(), signature()).prop_map(|(c, eip155, to, sig)| {
        let tx = TxLegacy {
            chain_id: eip155.then_some(c.chain_id),
            nonce: c.nonce,
            gas_price: c.max_fee,
            gas_limit: c.gas_limit,
            to,
            value: c.value,
            input: c.input,
        };
        TxEnvelope::Legacy(tx.into_signed(sig))
    });
    let eip2930 = (common(), kind(), signature()).prop_map(|(c, to, sig)| {
        let tx = TxEip2930 {
            chain_id: c.chain_id,
            nonce: c.nonce,
            gas_price: c.max_fee,
            gas_limit: c.gas_limit,
            to,
            value: c.value,
            access_list: c.access_list,
            input: c.input,
        };
        TxEnvelope::Eip2930(tx.into_signed(sig))
    });
    let eip1559 = (common(), kind(), signature())
        .prop_map(|(c, to, sig)| TxEnvelope::Eip1559(eip1559(c, to).into_signed(sig)));
    let eip4844 = (
        common(),
        address(),
        vec(hash(), 0..3),
        u128_edge(),
        signature(),
    )
        .prop_map(
            |(c, to, blob_versioned_hashes, max_fee_per_blob_gas, sig)| {
                let tx = TxEip4844 {
                    chain_id: c.chain_id,
                    nonce: c.nonce,
                    gas_limit: c.gas_limit,
                    max_fee_per_gas: c.max_fee,
                    max_priority_fee_per_gas: c.tip,
                    to,
                    value: c.value,
                    access_list: c.access_list,
                    blob_versioned_hashes,
                    max_fee_per_blob_gas,
                    input: c.input,
                };
                TxEnvelope::Eip4844(TxEip4844Variant::TxEip4844(tx).into_signed(sig))
            },
        );
    let eip7702 = (common(), address(), vec(authorization(), 0..3), signature()).prop_map(
        |(c, to, authorization_list, sig)| {
            let tx = TxEip7702 {
                chain_id: c.chain_id,
                nonce: c.nonce,
                gas_limit: c.gas_limit,
                max_fee_per_gas: c.max_fee,
                max_priority_fee_per_gas: c.tip,
                to,
                value: c.value,
                access_list: c.access_list,
                authorization_list,
                input: c.input,
            };
            TxEnvelope::Eip7702(tx.into_signed(sig))
        },
    );
    prop_oneof![
        2 => legacy,
        1 => eip2930,
        4 => eip1559,
        1 => eip4844,
        1 => eip7702,
    ]
    .boxed()
}

/// An EIP-1559 tx only (the pool parser's fast path).
pub fn eip1559_tx() -> BoxedStrategy<TxEnvelope> {
    (common(), kind(), signature())
        .prop_map(|(c, to, sig)| TxEnvelope::Eip1559(eip1559(c, to).into_signed(sig)))
        .boxed()
}

fn eip1559(c: Common, to: TxKind) -> TxEip1559 {
    TxEip1559 {
        chain_id: c.chain_id,
        nonce: c.nonce,
        gas_limit: c.gas_limit,
        max_fee_per_gas: c.max_fee,
        max_priority_fee_per_gas: c.tip,
        to,
        value: c.value,
        access_list: c.access_list,
        input: c.input,
    }
}
