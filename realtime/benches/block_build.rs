//! P2: node-side work per block with 1,000 txs in the pool: parse the engine's pool content,
//! build and sign the anchor, compress the driver's tx list, serialize the `preconfBlocks`
//! request, and add the block to its proposal (incremental payload, sealing included).
//! Baseline in the same run: the same block path, but sizing the proposal the way Catalyst does,
//! by re-compressing the whole proposal for every block.
//! Ends with `BENCH P2 p99_ms=… ratio_to_budget=… ratio_to_recompress=…`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is the failure report

use std::time::{Duration, Instant};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    network::TxSignerSync,
    primitives::{Address, B256, TxKind, U256},
    signers::local::PrivateKeySigner,
};
use common::{
    basefee::{MIN_BASE_FEE, ParentFacts},
    codec::{
        blob::MAX_BLOB_PAYLOAD,
        manifest::{BlockManifest, DerivationSourceManifest},
        manifest_stream::DeflatedTxs,
    },
    driver::InsertedBlock,
    engine::parse_pool_content,
};
use realtime::{
    block_build::{self, BlockFrame, ParentBlock},
    config::ProposalLimits,
    proposal::{L1Anchor, PreconfirmedBlock, Proposals},
};

const POOL_TXS: usize = 1_000;
const BLOCKS: usize = 400;
const BUDGET: Duration = Duration::from_millis(5);

fn pool_body() -> Vec<u8> {
    let signers: Vec<PrivateKeySigner> = (1..=20u8)
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap())
        .collect();
    let txs: Vec<TxEnvelope> = (0..POOL_TXS)
        .map(|i| {
            let mut tx = TxEip1559 {
                chain_id: 167_001,
                nonce: (i / signers.len()) as u64,
                gas_limit: 21_000,
                max_fee_per_gas: 1_000_000_000,
                max_priority_fee_per_gas: 1_000_000,
                to: TxKind::Call(Address::with_last_byte(i as u8)),
                value: U256::from(i),
                ..Default::default()
            };
            let sig = signers[i % signers.len()]
                .sign_transaction_sync(&mut tx)
                .unwrap();
            TxEnvelope::Eip1559(tx.into_signed(sig))
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1,
        "result": [{"TxList": txs, "EstimatedGasUsed": 21_000 * POOL_TXS, "BytesLength": 0}]
    }))
    .unwrap()
}

fn limits() -> ProposalLimits {
    ProposalLimits {
        max_payload_bytes: 5 * MAX_BLOB_PAYLOAD,
        max_blocks: 192,
        max_time_shift_sec: 255,
        max_anchor_age: 246,
    }
}

const ANCHOR: L1Anchor = L1Anchor {
    number: 1_000,
    hash: B256::repeat_byte(1),
    state_root: B256::repeat_byte(2),
};

/// What `size` hands on: proposals sealed, and what to drop after the clock stops (sealed
/// proposals go to the submitter actor in the node, which frees them there).
type Handed = (usize, Box<dyn std::any::Any>);

/// One block's node-side work; `size` adds the block to the proposal.
fn one_block(
    body: &[u8],
    n: u64,
    size: &mut impl FnMut(Option<DeflatedTxs>, PreconfirmedBlock) -> Handed,
) -> Handed {
    let txs = parse_pool_content(body).unwrap();
    assert_eq!(txs.len(), POOL_TXS);
    let parent = ParentBlock {
        number: n,
        hash: B256::with_last_byte(n as u8),
        facts: ParentFacts {
            number: n,
            timestamp: 1_000 + 2 * n,
            gas_limit: 31_000_000,
            gas_used: 21_000_000,
            base_fee: 25_000_000,
            grandparent_timestamp: 998 + 2 * n,
        },
    };
    let frame = BlockFrame {
        chain_id: 167_001,
        anchor_contract: Address::repeat_byte(0xaa),
        coinbase: Address::repeat_byte(0xbb),
        basefee_sharing_pctg: 75,
        golden_touch_nonce: n,
        anchor: ANCHOR,
        signal_slots: vec![],
        timestamp: 1_002 + 2 * n,
        base_fee: parent.next_base_fee(MIN_BASE_FEE),
        gas_limit: parent.gas_limit_without_anchor(),
    };
    let block = block_build::assemble(&parent, &frame, txs);
    std::hint::black_box(serde_json::to_vec(&block.request).unwrap());
    size(
        block.txs,
        PreconfirmedBlock {
            manifest: block.manifest,
            header: InsertedBlock {
                number: n + 1,
                hash: B256::with_last_byte(n as u8 + 1),
                state_root: B256::ZERO,
                parent_hash: parent.hash,
            },
            signal_slots: vec![],
            user_ops: vec![],
            returns: Default::default(),
            preconfirmed_at_ms: 0,
            forced: None,
        },
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn run(
    body: &[u8],
    mut size: impl FnMut(Option<DeflatedTxs>, PreconfirmedBlock) -> Handed,
) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(BLOCKS);
    let mut sealed = 0;
    for n in 0..BLOCKS as u64 {
        let started = Instant::now();
        let (count, handed) = one_block(body, n, &mut size);
        times.push(started.elapsed());
        sealed += count;
        drop(handed);
    }
    times.sort();
    (times, sealed)
}

fn main() {
    let body = pool_body();
    // Ours: the proposal builder the BatchManager uses.
    let mut proposals = Proposals::new(limits(), 1);
    let (ours, sealed) = run(&body, |txs, block| {
        let sealed = proposals.push(ANCHOR, block, txs);
        (sealed.len(), Box::new(sealed))
    });

    // Baseline: every block re-compresses the whole open proposal to check its size.
    let mut open: Vec<BlockManifest> = Vec::new();
    let (baseline, baseline_sealed) = run(&body, |_, block| {
        open.push(block.manifest);
        let size = DerivationSourceManifest {
            blocks: open.clone(),
        }
        .plaintext_payload()
        .len();
        if size > limits().max_payload_bytes {
            let last = open.pop().unwrap();
            (1, Box::new(std::mem::replace(&mut open, vec![last])))
        } else {
            (0, Box::new(()))
        }
    });

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (p50, p99, max) = (
        percentile(&ours, 0.5),
        percentile(&ours, 0.99),
        ours[ours.len() - 1],
    );
    let base_p99 = percentile(&baseline, 0.99);
    println!(
        "{BLOCKS} blocks of {POOL_TXS} txs ({} bytes of pool JSON); proposals sealed: ours {sealed}, baseline {baseline_sealed}",
        body.len()
    );
    println!(
        "ours:     p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(p50),
        ms(p99),
        ms(max)
    );
    println!(
        "baseline: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms (re-compress the proposal per block)",
        ms(percentile(&baseline, 0.5)),
        ms(base_p99),
        ms(baseline[baseline.len() - 1])
    );
    println!(
        "BENCH P2 p99_ms={:.3} p50_ms={:.3} budget_ms={} ratio_to_budget={:.3} baseline_p99_ms={:.3} ratio_to_recompress={:.3} pool_txs={POOL_TXS}",
        ms(p99),
        ms(p50),
        BUDGET.as_millis(),
        p99.as_secs_f64() / BUDGET.as_secs_f64(),
        ms(base_p99),
        p99.as_secs_f64() / base_p99.as_secs_f64()
    );
}
