//! P5: a sealed 6-blob proposal to its L1 tx broadcast, proof time excluded, against the
//! devnet's anvil L1 with the real inbox double (the mock proof is signed here, untimed, so
//! `eth_estimateGas` runs the full `propose`). Stages: blob packing, KZG commitments (what the
//! prover needs), cell proofs (computed while the proof runs), calldata, the tx manager's
//! chain reads, gas estimate, signing, journal write, and the broadcast. Baseline measured in
//! the same run: raw c-kzg (commitment + cell proofs) of the same blobs, one thread per blob.
//! Ends with `BENCH P5 …`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is the failure report

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{B256, Bytes, Uint},
    providers::Provider,
    signers::SignerSync,
};
use bindings::{BlobSlice, Checkpoint, DerivationSource, IRealTimeInbox, Proposal};
use common::{
    codec::{blob, payload},
    commitment,
    ids::ProposalId,
    rpc::RpcEndpoint,
    sidecar,
    tx_manager::{BlobTx, TxManager, TxManagerConfig, fees::FeePolicy, journal::Journal},
};
use devnet::{
    accounts::{self, PRECONFER_KEY, PROVER_KEY},
    deploy::BASEFEE_SHARING_PCTG,
    network::{Devnet, L2_CHAIN_ID, Options},
};
use realtime::{
    proposal_store::{L2Checkpoint, ProposalRecord},
    propose_tx,
};

const ITERATIONS: usize = 5;
const BLOBS: usize = 6;
const BUDGET: Duration = Duration::from_millis(1500);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A full, incompressible 6-blob payload (the worst case for KZG and the tx size).
fn payload() -> Vec<u8> {
    let inner_len = BLOBS * blob::MAX_BLOB_PAYLOAD - payload::FRAME_HEADER;
    let mut inner = vec![0u8; inner_len];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for byte in inner.iter_mut().skip(1) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = x as u8;
    }
    payload::frame(&inner)
}

fn kzg_floor(blobs: &[alloy::eips::eip4844::Blob]) -> Duration {
    let settings = sidecar::load_trusted_setup();
    let started = Instant::now();
    std::thread::scope(|s| {
        for b in blobs {
            s.spawn(move || sidecar::commit_blob(settings, b).unwrap());
        }
    });
    started.elapsed()
}

#[derive(Default)]
struct Stages {
    pack: Vec<Duration>,
    commit: Vec<Duration>,
    cells: Vec<Duration>,
    calldata: Vec<Duration>,
    chain_reads: Vec<Duration>,
    estimate: Vec<Duration>,
    sign: Vec<Duration>,
    journal: Vec<Duration>,
    broadcast: Vec<Duration>,
    total: Vec<Duration>,
    after_proof: Vec<Duration>,
    floor: Vec<Duration>,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(&Options {
        l1_block_time: 1,
        jwt_path: dir.path().join("jwt.hex"),
        proof_delay: Duration::ZERO,
        raiko_api_key: None,
    })
    .await
    .unwrap();
    tokio::task::spawn_blocking(sidecar::load_trusted_setup)
        .await
        .unwrap();
    let db = common::store::open(&dir.path().join("data")).unwrap();
    let l1 = RpcEndpoint::new(devnet.urls.l1.clone(), Duration::from_secs(10));
    let provider = l1.connect().await.unwrap();
    let mut manager = TxManager::connect(
        l1,
        provider.clone(),
        accounts::signer(PRECONFER_KEY),
        Journal::open(&db).unwrap(),
        TxManagerConfig {
            fees: FeePolicy {
                min_tip: 1_000_000_000,
                max_fee_cap: 500_000_000_000,
                max_blob_fee_cap: 200_000_000_000,
            },
            extra_gas_percentage: 100,
            replace_after_blocks: 2,
            poll_interval: Duration::from_millis(200),
        },
    )
    .await
    .unwrap();
    let prover = accounts::signer(PROVER_KEY);
    let inbox = IRealTimeInbox::new(devnet.contracts.inbox, provider.clone());
    let payload = payload();
    let mut stages = Stages::default();
    for i in 0..ITERATIONS {
        let prev = inbox.getLastFinalizedBlockHash().call().await.unwrap();
        let anchor_number = provider.get_block_number().await.unwrap() - 2;
        let anchor = provider
            .get_block_by_number(anchor_number.into())
            .await
            .unwrap()
            .unwrap();

        let started = Instant::now();
        let blobs = Arc::new(blob::encode(&payload));
        let pack = started.elapsed();
        let commitments = sidecar::commitments(blobs.clone()).await.unwrap();
        let hashes = sidecar::versioned_hashes(&commitments);
        let commit = started.elapsed() - pack;

        // The proof (untimed): what Raiko's mock prover signs.
        let checkpoint = L2Checkpoint {
            number: 1_000 + i as u64,
            hash: B256::repeat_byte(i as u8 + 1),
            state_root: B256::repeat_byte(0xee),
        };
        let proposal = Proposal {
            maxAnchorBlockNumber: Uint::from(anchor_number),
            maxAnchorBlockHash: anchor.header.hash,
            basefeeSharingPctg: BASEFEE_SHARING_PCTG,
            sources: vec![DerivationSource {
                isForcedInclusion: false,
                blobSlice: BlobSlice {
                    blobHashes: hashes.clone(),
                    offset: Uint::ZERO,
                    timestamp: Uint::ZERO,
                },
            }],
            signalSlotsHash: B256::ZERO,
        };
        let commitment_hash = commitment::commitment_hash(
            commitment::proposal_hash(&proposal),
            prev,
            &Checkpoint {
                blockNumber: Uint::from(checkpoint.number),
                blockHash: checkpoint.hash,
                stateRoot: checkpoint.state_root,
            },
        );
        let input =
            commitment::public_input(L2_CHAIN_ID, devnet.contracts.mock_verifier, commitment_hash);
        let proof = Bytes::from(prover.sign_hash_sync(&input).unwrap().as_bytes().to_vec());

        let resumed = Instant::now();
        let sidecar = sidecar::build_with_commitments(blobs.clone(), Some(commitments))
            .await
            .unwrap();
        let cells = resumed.elapsed();
        let record = ProposalRecord {
            id: ProposalId(i as u64 + 1),
            anchor: anchor_number,
            first_block: checkpoint.number,
            parent_hash: prev,
            checkpoint,
            signal_slots: Vec::new(),
            payload: Bytes::new(),
            user_ops: Vec::new(),
            returns: Default::default(),
            preconfirmed_at_ms: vec![],
            block_hashes: vec![],
            forced: vec![],
        };
        let calldata = propose_tx::propose_calldata(&record, BLOBS, proof, 1);
        let calldata_time = resumed.elapsed() - cells;
        let prepared = manager
            .prepare(BlobTx {
                to: devnet.contracts.inbox,
                input: calldata,
                sidecar,
                proposal: record.id,
            })
            .await
            .unwrap();
        let sent = Instant::now();
        let _pending = provider.send_raw_transaction(prepared.raw()).await.unwrap();
        let broadcast = sent.elapsed();
        let total = pack + commit + resumed.elapsed();
        let t = prepared.timings;
        // Our pipeline computes the cell proofs while the proof runs: after a proof that takes
        // at least as long, only these remain.
        let after_proof =
            calldata_time + t.chain_reads + t.estimate + t.sign + t.journal + broadcast;
        let included = manager.publish(prepared).await.unwrap();
        assert!(included.receipt.status());
        assert_eq!(
            included.receipt.blob_gas_used,
            Some(BLOBS as u64 * 131_072),
            "a 6-blob tx"
        );
        stages.floor.push(kzg_floor(&blobs));
        stages.pack.push(pack);
        stages.commit.push(commit);
        stages.cells.push(cells);
        stages.calldata.push(calldata_time);
        stages.chain_reads.push(t.chain_reads);
        stages.estimate.push(t.estimate);
        stages.sign.push(t.sign);
        stages.journal.push(t.journal);
        stages.broadcast.push(broadcast);
        stages.total.push(total);
        stages.after_proof.push(after_proof);
        println!(
            "iteration {i}: total {:.1} ms (pack {:.1}, commitments {:.1}, cell proofs {:.1}, calldata {:.1}, chain reads {:.1}, estimate {:.1}, sign {:.1}, journal {:.1}, broadcast {:.1}); after the proof {:.1} ms",
            ms(total),
            ms(pack),
            ms(commit),
            ms(cells),
            ms(calldata_time),
            ms(t.chain_reads),
            ms(t.estimate),
            ms(t.sign),
            ms(t.journal),
            ms(broadcast),
            ms(after_proof)
        );
    }
    let total = median(stages.total.clone());
    let floor = median(stages.floor.clone());
    println!(
        "BENCH P5 total_ms={:.1} budget_ms={} ratio_to_budget={:.3} after_proof_ms={:.1} kzg_floor_ms={:.1} ratio_to_kzg_floor={:.3} pack_ms={:.1} commit_ms={:.1} cells_ms={:.1} calldata_ms={:.1} chain_reads_ms={:.1} estimate_ms={:.1} sign_ms={:.1} journal_ms={:.1} broadcast_ms={:.1} blobs={BLOBS} iterations={ITERATIONS}",
        ms(total),
        BUDGET.as_millis(),
        total.as_secs_f64() / BUDGET.as_secs_f64(),
        ms(median(stages.after_proof)),
        ms(floor),
        total.as_secs_f64() / floor.as_secs_f64(),
        ms(median(stages.pack)),
        ms(median(stages.commit)),
        ms(median(stages.cells)),
        ms(median(stages.calldata)),
        ms(median(stages.chain_reads)),
        ms(median(stages.estimate)),
        ms(median(stages.sign)),
        ms(median(stages.journal)),
        ms(median(stages.broadcast)),
    );
}
