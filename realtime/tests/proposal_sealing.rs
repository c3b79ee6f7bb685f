//! Proposal sealing by real limits: payload size (incremental estimate, checked on the real
//! compressed bytes), block count, anchor age, fast signals first, time shift.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::local::PrivateKeySigner,
};
use common::{
    codec::{
        blob::MAX_BLOB_PAYLOAD,
        manifest::{BlockManifest, DerivationSourceManifest},
        manifest_stream::DeflatedTxs,
    },
    driver::InsertedBlock,
    ids::SignalSlot,
};
use realtime::{
    config::ProposalLimits,
    forced_inclusion::ForcedSource,
    proposal::{L1Anchor, PreconfirmedBlock, Proposals, SealReason},
};

const ANCHOR: L1Anchor = L1Anchor {
    number: 100,
    hash: B256::repeat_byte(1),
    state_root: B256::repeat_byte(2),
};

/// The txs' network encodings back to back, as the driver's tx list holds them.
fn txs_rlp(txs: &[TxEnvelope]) -> Vec<u8> {
    let mut out = Vec::new();
    for tx in txs {
        alloy::rlp::Encodable::encode(tx, &mut out);
    }
    out
}

fn limits(blobs: usize, max_blocks: usize) -> ProposalLimits {
    ProposalLimits {
        max_payload_bytes: blobs * MAX_BLOB_PAYLOAD,
        max_blocks,
        max_time_shift_sec: 255,
        max_anchor_age: 246,
    }
}

/// Deterministic noise: incompressible calldata makes payload size track tx size.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    seed |= 1;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn tx(nonce: u64, data_len: usize, seed: u64) -> TxEnvelope {
    let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
    let mut tx = TxEip1559 {
        chain_id: 167_001,
        nonce,
        gas_limit: 1_000_000,
        max_fee_per_gas: 1_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(3)),
        value: U256::ZERO,
        input: Bytes::from(noise(data_len, seed)),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::Eip1559(tx.into_signed(sig))
}

fn block(number: u64, txs: Vec<TxEnvelope>) -> PreconfirmedBlock {
    PreconfirmedBlock {
        manifest: BlockManifest {
            timestamp: 1_000 + number,
            coinbase: Address::repeat_byte(9),
            anchor_block_number: ANCHOR.number,
            gas_limit: 30_000_000,
            transactions: txs,
        },
        header: InsertedBlock {
            number,
            hash: B256::with_last_byte(number as u8),
            state_root: B256::ZERO,
            parent_hash: B256::with_last_byte(number as u8 - 1),
        },
        signal_slots: vec![],
        user_ops: vec![],
        returns: Default::default(),
        preconfirmed_at_ms: 0,
        forced: None,
    }
}

#[test]
fn max_blocks_seals_and_ids_increase() {
    let mut p = Proposals::new(limits(1, 3), 1);
    assert!(p.push(ANCHOR, block(1, vec![]), None).is_empty());
    assert!(p.push(ANCHOR, block(2, vec![]), None).is_empty());
    let sealed = p.push(ANCHOR, block(3, vec![]), None);
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].reason, SealReason::MaxBlocks);
    assert_eq!(sealed[0].blocks.len(), 3);
    assert_eq!(sealed[0].id.0, 1);
    assert_eq!(sealed[0].checkpoint().unwrap().number, 3);
    assert_eq!(p.open_anchor(), None);
    assert!(p.push(ANCHOR, block(4, vec![]), None).is_empty());
    assert_eq!(p.seal(SealReason::Requested)[0].id.0, 2);
}

#[test]
fn payload_limit_moves_the_overflowing_block_to_the_next_proposal() {
    let mut p = Proposals::new(limits(1, 192), 1);
    let mut sealed = Vec::new();
    // ~20 KB of incompressible calldata per block: the 7th block no longer fits one blob.
    for n in 1..=12u64 {
        sealed.extend(p.push(ANCHOR, block(n, vec![tx(n, 20_000, n)]), None));
    }
    sealed.extend(p.seal(SealReason::Requested));
    assert!(sealed.len() >= 2, "{}", sealed.len());
    let mut next_number = 1;
    for proposal in &sealed {
        assert!(
            proposal.payload.len() <= MAX_BLOB_PAYLOAD,
            "{}",
            proposal.payload.len()
        );
        // The payload is exactly the manifest of its blocks, which round-trips.
        let manifest = DerivationSourceManifest::from_plaintext_payload(&proposal.payload).unwrap();
        assert_eq!(manifest.blocks.len(), proposal.blocks.len());
        for b in &proposal.blocks {
            assert_eq!(
                b.header.number, next_number,
                "blocks stay in order, none lost"
            );
            next_number += 1;
        }
    }
    assert_eq!(next_number, 13);
    assert_eq!(sealed[0].reason, SealReason::PayloadFull);
    // The first proposal is nearly full: less than one block's worth of space was left.
    assert!(sealed[0].payload.len() > MAX_BLOB_PAYLOAD - 21_000);
}

#[test]
fn anchor_age_fast_signals_and_time_shift_seal_before_the_block() {
    let mut p = Proposals::new(limits(1, 192), 1);
    p.push(ANCHOR, block(1, vec![]), None);
    assert!(p.seal_before(ANCHOR.number + 246, 1_002, false).is_empty());
    let aged = p.seal_before(ANCHOR.number + 247, 1_002, false);
    assert_eq!(aged[0].reason, SealReason::AnchorAge);

    p.push(ANCHOR, block(2, vec![]), None);
    let signals = p.seal_before(ANCHOR.number, 1_003, true);
    assert_eq!(signals[0].reason, SealReason::FastSignals);
    // Nothing open: the signal block becomes the first block of a new proposal.
    assert!(p.seal_before(ANCHOR.number, 1_003, true).is_empty());
    let mut first = block(3, vec![]);
    first.signal_slots = vec![SignalSlot(B256::repeat_byte(5))];
    p.push(ANCHOR, first, None);
    let sealed = p.seal_before(ANCHOR.number, 1_004, true);
    assert_eq!(
        sealed[0].signal_slots,
        vec![SignalSlot(B256::repeat_byte(5))]
    );

    p.push(ANCHOR, block(4, vec![]), None);
    assert!(p.seal_before(ANCHOR.number, 1_004 + 255, false).is_empty());
    let shifted = p.seal_before(ANCHOR.number, 1_004 + 256, false);
    assert_eq!(shifted[0].reason, SealReason::TimeShift);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Whatever the blocks, every sealed payload fits, and no block is lost or reordered.
    #[test]
    fn sealed_payloads_always_fit(
        sizes in proptest::collection::vec((0usize..4, 0usize..30_000, proptest::bool::ANY), 1..30),
        blobs in 1usize..3,
    ) {
        let mut p = Proposals::new(limits(blobs, 192), 1);
        let mut sealed = Vec::new();
        for (n, (count, size, share)) in sizes.iter().enumerate() {
            let n = n as u64 + 1;
            let txs: Vec<TxEnvelope> = (0..*count)
                .map(|i| tx(n * 10 + i as u64, *size / (*count).max(1), n * 31 + i as u64))
                .collect();
            // Some blocks bring their txs deflated (as a large block does from the driver's list).
            let deflated = share.then(|| DeflatedTxs::new(txs_rlp(&txs)));
            sealed.extend(p.push(ANCHOR, block(n, txs), deflated));
        }
        sealed.extend(p.seal(SealReason::Requested));
        let mut next = 1;
        for proposal in &sealed {
            proptest::prop_assert!(proposal.payload.len() <= blobs * MAX_BLOB_PAYLOAD);
            let manifest = DerivationSourceManifest::from_plaintext_payload(&proposal.payload).unwrap();
            let expected: Vec<_> = proposal.blocks.iter().map(|b| b.manifest.clone()).collect();
            proptest::prop_assert_eq!(manifest.blocks, expected);
            for b in &proposal.blocks {
                proptest::prop_assert_eq!(b.header.number, next);
                next += 1;
            }
        }
        proptest::prop_assert_eq!(next, sizes.len() as u64 + 1);
    }
}

fn forced_block(number: u64, index: u64, gas_limit: u64) -> PreconfirmedBlock {
    let mut b = block(number, vec![tx(index, 10, index)]);
    b.manifest.coinbase = Address::ZERO;
    b.manifest.gas_limit = gas_limit;
    b.forced = Some(ForcedSource {
        index,
        blob_hash: B256::repeat_byte(index as u8),
        offset: 0,
        saved_at: 500 + index,
        blob: Bytes::new(),
        valid: true,
    });
    b
}

#[test]
fn forced_inclusion_blocks_lead_a_proposal_that_seals_only_with_a_block_of_its_own() {
    let mut p = Proposals::new(limits(1, 2), 1);
    assert!(
        p.push(ANCHOR, forced_block(1, 7, 29_000_000), None)
            .is_empty()
    );
    assert!(
        p.push(ANCHOR, forced_block(2, 8, 28_000_000), None)
            .is_empty()
    );
    assert_eq!((p.open_blocks(), p.open_forced()), (2, 2));
    assert_eq!(p.open_forced_through(), Some(9));
    // Its own blocks keep the limit of the proposal's parent: the first inclusion's.
    assert_eq!(p.open_forced_gas_limit(), Some(29_000_000));
    assert!(
        p.seal(SealReason::Slot).is_empty(),
        "the proposer's source must derive a block"
    );
    // Inclusion blocks count neither towards MAX_BLOCKS nor into the proposer's payload.
    assert!(
        p.push(ANCHOR, block(3, vec![tx(0, 10, 1)]), None)
            .is_empty()
    );
    let sealed = p.push(ANCHOR, block(4, vec![]), None);
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].reason, SealReason::MaxBlocks);
    assert_eq!(sealed[0].blocks.len(), 4);
    let indices: Vec<u64> = sealed[0].forced.iter().map(|f| f.index).collect();
    assert_eq!(indices, vec![7, 8]);
    let manifest = DerivationSourceManifest::from_plaintext_payload(&sealed[0].payload).unwrap();
    let numbers: Vec<u64> = manifest
        .blocks
        .iter()
        .map(|b| b.timestamp - 1_000)
        .collect();
    assert_eq!(
        numbers,
        vec![3, 4],
        "only the node's own blocks are in its blob"
    );
    assert_eq!(p.open_forced_gas_limit(), None);
}
