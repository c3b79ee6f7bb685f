//! The Raiko stand-in: `POST /v3/proof/batch/realtime` with the real request and response JSON
//! (catalyst-reference §5). Before it signs, it re-derives the proposal from the blobs it was
//! given exactly as the driver would (blob decode → frame → scheme → zlib → RLP manifest), checks
//! the manifest against the L2 chain and the checkpoint, and computes the commitment as the
//! inbox does. Any mismatch is an `error` response naming the field.
//!
//! Test hooks: `POST /devnet/config` `{"proof_delay_ms": n, "fail": {"kind": "error"|"http500"|
//! "timeout"|"not_drawn", "count": n}, "privacy_key": "0x…"}` sets the proving delay, injects
//! failures, and gives the key that opens privacy-mode (scheme 0x01) payloads.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{Transaction, TxEnvelope},
    eips::{eip4844::Blob, eip4844::env_settings::EnvKzgSettings, eip4844::kzg_to_versioned_hash},
    primitives::{Address, B256, Bytes, keccak256},
    providers::{DynProvider, Provider},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolCall,
};
use axum::{
    Json, Router,
    body::Bytes as Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use bindings::{BlobSlice, Checkpoint, DerivationSource, IAnchor, Proposal};
use common::{
    anchor::ANCHOR_GAS_LIMIT,
    codec::{blob, manifest::DerivationSourceManifest, payload, privacy},
    commitment,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// How long a "timeout" failure holds the connection (longer than any client timeout).
const HOLD: Duration = Duration::from_secs(600);

/// What the stand-in checks against and signs with.
pub struct Raiko {
    /// The L1 (max anchor block hash).
    pub l1: DynProvider,
    /// The L2 (the blocks being proved).
    pub l2: DynProvider,
    /// L2 chain id (in the public input).
    pub l2_chain_id: u64,
    /// The dummy verifier whose address is in the public input.
    pub verifier: Address,
    /// The inbox's basefee-sharing percentage.
    pub basefee_sharing_pctg: u8,
    /// The mock prover key (the dummy verifier's signer).
    pub signer: PrivateKeySigner,
    /// Required `X-API-KEY`, if any.
    pub api_key: Option<String>,
    /// Jobs and test hooks.
    pub state: Mutex<RaikoState>,
}

/// Mutable state: registered jobs, delay and injected failures.
#[derive(Debug, Default)]
pub struct RaikoState {
    jobs: HashMap<B256, Job>,
    /// Time from registration to a ready proof.
    pub proof_delay: Duration,
    fail: Option<Failure>,
    /// Proposals re-derived from their blobs, checked and signed.
    derived: u64,
    /// Requests refused after derivation or checks failed.
    refused: u64,
    /// The privacy-mode key, to open scheme-0x01 payloads (`SURGE_PRIVACY_SYMMETRIC_KEY`).
    privacy_key: Option<[u8; 32]>,
}

impl RaikoState {
    /// No jobs yet; proofs take `proof_delay`.
    pub fn new(proof_delay: Duration) -> Self {
        Self {
            proof_delay,
            ..Default::default()
        }
    }
}

#[derive(Debug)]
struct Job {
    registered: Instant,
    outcome: Result<(Bytes, B256), String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Failure {
    kind: FailureKind,
    count: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum FailureKind {
    Error,
    Http500,
    Timeout,
    NotDrawn,
}

/// The realtime request (snake_case top level, camelCase inside sources).
#[derive(Debug, Deserialize)]
struct ProofRequest {
    l2_block_numbers: Vec<u64>,
    proof_type: String,
    max_anchor_block_number: u64,
    last_finalized_block_hash: B256,
    basefee_sharing_pctg: u8,
    signal_slots: Vec<B256>,
    sources: Vec<Source>,
    blobs: Vec<Bytes>,
    checkpoint: RequestCheckpoint,
    blob_proof_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Source {
    is_forced_inclusion: bool,
    blob_slice: Slice,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Slice {
    blob_hashes: Vec<B256>,
    offset: u32,
    timestamp: u64,
}

#[derive(Debug, Deserialize)]
struct RequestCheckpoint {
    block_number: u64,
    block_hash: B256,
    state_root: B256,
}

type Reply = (StatusCode, Json<Value>);

fn error(proof_type: &str, message: impl Into<String>) -> Reply {
    let message = message.into();
    (
        StatusCode::OK,
        Json(
            json!({"status": "error", "error": "task_failed", "message": message, "proof_type": proof_type}),
        ),
    )
}

/// The Raiko API and its test hooks.
pub fn router(raiko: Arc<Raiko>) -> Router {
    Router::new()
        .route("/v3/proof/batch/realtime", post(prove))
        .route("/devnet/config", post(configure))
        .route("/devnet/stats", axum::routing::get(stats))
        .with_state(raiko)
}

#[derive(Debug, Deserialize)]
struct Config {
    proof_delay_ms: Option<u64>,
    fail: Option<Failure>,
    /// 32-byte hex: open privacy-mode payloads with it.
    privacy_key: Option<B256>,
}

async fn configure(State(raiko): State<Arc<Raiko>>, body: Body) -> Reply {
    let config: Config = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.to_string()})),
            );
        }
    };
    let mut state = raiko.state.lock().await;
    if let Some(ms) = config.proof_delay_ms {
        state.proof_delay = Duration::from_millis(ms);
    }
    if config.fail.is_some() {
        state.fail = config.fail;
    }
    if let Some(key) = config.privacy_key {
        state.privacy_key = Some(key.0);
    }
    (
        StatusCode::OK,
        Json(json!({"proof_delay_ms": state.proof_delay.as_millis() as u64, "fail": state.fail})),
    )
}

/// `{"derived": n, "refused": m, "jobs": k}`: what the stand-in has proved so far.
async fn stats(State(raiko): State<Arc<Raiko>>) -> Reply {
    let state = raiko.state.lock().await;
    (
        StatusCode::OK,
        Json(json!({"derived": state.derived, "refused": state.refused, "jobs": state.jobs.len()})),
    )
}

async fn prove(State(raiko): State<Arc<Raiko>>, headers: HeaderMap, body: Body) -> Reply {
    if let Some(key) = &raiko.api_key
        && headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(key.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"status": "error", "message": "missing or wrong X-API-KEY"})),
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"status": "error", "message": format!("request is not JSON: {e}")})),
            );
        }
    };
    let proof_type = value["proof_type"].as_str().unwrap_or_default().to_string();
    if let Some(kind) = take_failure(&raiko).await {
        match kind {
            FailureKind::Error => return error(&proof_type, "injected failure: prover error"),
            FailureKind::NotDrawn => {
                return (
                    StatusCode::OK,
                    Json(
                        json!({"status": "ok", "proof_type": proof_type, "data": {"status": "ZKAnyNotDrawn"}}),
                    ),
                );
            }
            FailureKind::Http500 => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"status": "error", "message": "injected HTTP 500"})),
                );
            }
            FailureKind::Timeout => {
                tokio::time::sleep(HOLD).await;
                return error(&proof_type, "injected timeout");
            }
        }
    }
    let request: ProofRequest = match serde_json::from_value(value.clone()) {
        Ok(r) => r,
        Err(e) => return error(&proof_type, format!("request: {e}")),
    };
    // Identical bodies are polls of the same job.
    let key = keccak256(serde_json::to_vec(&value).unwrap_or_default());
    let known = raiko.state.lock().await.jobs.contains_key(&key);
    if !known {
        let outcome = check_and_sign(&raiko, &request).await;
        if let Err(why) = &outcome {
            raiko.state.lock().await.refused += 1;
            tracing::warn!(error = %why, "Raiko stand-in refused a proof request");
            return error(&proof_type, why.clone());
        }
        let mut state = raiko.state.lock().await;
        state.derived += 1;
        state.jobs.insert(
            key,
            Job {
                registered: Instant::now(),
                outcome,
            },
        );
        drop(state);
        return (
            StatusCode::OK,
            Json(
                json!({"status": "ok", "proof_type": proof_type, "data": {"status": "Registered"}}),
            ),
        );
    }
    let state = raiko.state.lock().await;
    let Some(job) = state.jobs.get(&key) else {
        return error(&proof_type, "job vanished");
    };
    if job.registered.elapsed() < state.proof_delay {
        return (
            StatusCode::OK,
            Json(
                json!({"status": "ok", "proof_type": proof_type, "data": {"status": "WorkInProgress"}}),
            ),
        );
    }
    match &job.outcome {
        Ok((proof, commitment)) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "proof_type": proof_type,
                "data": {"proof": {"proof": proof, "input": commitment, "quote": null, "uuid": null, "kzg_proof": null}},
            })),
        ),
        Err(why) => error(&proof_type, why.clone()),
    }
}

async fn take_failure(raiko: &Raiko) -> Option<FailureKind> {
    let mut state = raiko.state.lock().await;
    let fail = state.fail.as_mut()?;
    let kind = fail.kind;
    fail.count = fail.count.saturating_sub(1);
    if fail.count == 0 {
        state.fail = None;
    }
    Some(kind)
}

/// Re-derives and checks the proposal; returns the 65-byte mock proof and the commitment hash.
async fn check_and_sign(raiko: &Raiko, req: &ProofRequest) -> Result<(Bytes, B256), String> {
    if !["sp1", "risc0", "zisk", "native"].contains(&req.proof_type.as_str()) {
        return Err(format!("proof_type: unknown {:?}", req.proof_type));
    }
    if req.blob_proof_type != "proof_of_equivalence" {
        return Err(format!(
            "blob_proof_type: {:?}, expected \"proof_of_equivalence\"",
            req.blob_proof_type
        ));
    }
    if req.basefee_sharing_pctg != raiko.basefee_sharing_pctg {
        return Err(format!(
            "basefee_sharing_pctg: {} but the inbox is configured with {}",
            req.basefee_sharing_pctg, raiko.basefee_sharing_pctg
        ));
    }
    let numbers = &req.l2_block_numbers;
    let Some(last) = numbers.last() else {
        return Err("l2_block_numbers: empty".into());
    };
    if numbers.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(format!(
            "l2_block_numbers: {numbers:?} is not a contiguous ascending range"
        ));
    }
    if *last != req.checkpoint.block_number {
        return Err(format!(
            "checkpoint.block_number: {} but the last of l2_block_numbers is {last}",
            req.checkpoint.block_number
        ));
    }
    let [source] = req.sources.as_slice() else {
        return Err(format!(
            "sources: {} sources, the devnet proves exactly one (the proposer's)",
            req.sources.len()
        ));
    };
    if source.is_forced_inclusion {
        return Err(
            "sources[0].isForcedInclusion: forced inclusions are not supported by the devnet"
                .into(),
        );
    }
    if source.blob_slice.timestamp != 0 {
        return Err(format!(
            "sources[0].blobSlice.timestamp: {}, the inbox commits to 0",
            source.blob_slice.timestamp
        ));
    }
    let hashes = &source.blob_slice.blob_hashes;
    if hashes.len() != req.blobs.len() || hashes.is_empty() {
        return Err(format!(
            "sources[0].blobSlice.blobHashes: {} hashes for {} blobs",
            hashes.len(),
            req.blobs.len()
        ));
    }
    let blobs = decode_blobs(&req.blobs, hashes)?;
    let payload = blob::decode(&blobs).map_err(|e| format!("blobs: {e}"))?;
    let offset = source.blob_slice.offset as usize;
    let framed = payload
        .get(offset..)
        .ok_or_else(|| format!("sources[0].blobSlice.offset {offset} is past the payload"))?;
    let key = raiko.state.lock().await.privacy_key;
    let manifest = open_payload(framed, key)?;
    if manifest.blocks.len() != numbers.len() {
        return Err(format!(
            "manifest: {} blocks but l2_block_numbers lists {}",
            manifest.blocks.len(),
            numbers.len()
        ));
    }
    let mut parent_hash = req.last_finalized_block_hash;
    let mut last_block = None;
    for (i, (number, block_manifest)) in numbers.iter().zip(&manifest.blocks).enumerate() {
        let block = raiko
            .l2
            .get_block_by_number((*number).into())
            .full()
            .await
            .map_err(|e| format!("reading L2 block {number}: {e}"))?
            .ok_or_else(|| format!("l2_block_numbers[{i}]: L2 block {number} does not exist"))?;
        if block.header.parent_hash != parent_hash {
            let field = if i == 0 {
                "last_finalized_block_hash"
            } else {
                "l2_block_numbers"
            };
            return Err(format!(
                "{field}: L2 block {number} has parent {}, expected {parent_hash}",
                block.header.parent_hash
            ));
        }
        let m = block_manifest;
        let h = &block.header;
        let field = |name: &str| format!("manifest.blocks[{i}].{name}");
        if m.timestamp != h.timestamp {
            return Err(format!(
                "{}: {} but L2 block {number} has {}",
                field("timestamp"),
                m.timestamp,
                h.timestamp
            ));
        }
        if m.coinbase != h.beneficiary {
            return Err(format!(
                "{}: {} but L2 block {number} has {}",
                field("coinbase"),
                m.coinbase,
                h.beneficiary
            ));
        }
        if m.gas_limit + ANCHOR_GAS_LIMIT != h.gas_limit {
            return Err(format!(
                "{}: {} + anchor {ANCHOR_GAS_LIMIT} but L2 block {number} has {}",
                field("gasLimit"),
                m.gas_limit,
                h.gas_limit
            ));
        }
        if m.anchor_block_number != req.max_anchor_block_number {
            return Err(format!(
                "{}: {} but max_anchor_block_number is {}",
                field("anchorBlockNumber"),
                m.anchor_block_number,
                req.max_anchor_block_number
            ));
        }
        let txs: Vec<TxEnvelope> = block
            .transactions
            .into_transactions()
            .map(|t| t.inner.into_inner())
            .collect();
        let Some((anchor_tx, rest)) = txs.split_first() else {
            return Err(format!("L2 block {number} has no anchor tx"));
        };
        let anchor =
            IAnchor::anchorV4WithSignalSlotsCall::abi_decode(anchor_tx.input()).map_err(|_| {
                format!("L2 block {number}: first tx is not an anchorV4WithSignalSlots call")
            })?;
        let anchored: u64 = anchor._checkpoint.blockNumber.to();
        if anchored != req.max_anchor_block_number {
            return Err(format!(
                "max_anchor_block_number: {} but L2 block {number} anchors L1 block {anchored}",
                req.max_anchor_block_number
            ));
        }
        let expected_slots: &[B256] = if i == 0 { &req.signal_slots } else { &[] };
        if anchor._signalSlots != expected_slots {
            return Err(format!(
                "signal_slots: L2 block {number} anchors fast signals {:?}, the driver derives {:?} (only the proposal's first block carries them)",
                anchor._signalSlots, expected_slots
            ));
        }
        let got: Vec<B256> = rest.iter().map(|t| *t.tx_hash()).collect();
        let want: Vec<B256> = m.transactions.iter().map(|t| *t.tx_hash()).collect();
        if got != want {
            return Err(format!(
                "{}: tx hashes {want:?} but L2 block {number} has {got:?} after its anchor",
                field("transactions")
            ));
        }
        parent_hash = h.hash;
        last_block = Some((h.number, h.hash, h.state_root));
    }
    let Some((number, hash, state_root)) = last_block else {
        return Err("l2_block_numbers: empty".into());
    };
    let cp = &req.checkpoint;
    if (cp.block_number, cp.block_hash, cp.state_root) != (number, hash, state_root) {
        return Err(format!(
            "checkpoint: ({}, {}, {}) but L2 block {number} is ({number}, {hash}, {state_root})",
            cp.block_number, cp.block_hash, cp.state_root
        ));
    }
    let anchor_block = raiko
        .l1
        .get_block_by_number(req.max_anchor_block_number.into())
        .await
        .map_err(|e| format!("reading L1 block {}: {e}", req.max_anchor_block_number))?
        .ok_or_else(|| {
            format!(
                "max_anchor_block_number: L1 block {} does not exist",
                req.max_anchor_block_number
            )
        })?;
    let proposal = Proposal {
        maxAnchorBlockNumber: alloy::primitives::Uint::from(req.max_anchor_block_number),
        maxAnchorBlockHash: anchor_block.header.hash,
        basefeeSharingPctg: req.basefee_sharing_pctg,
        sources: vec![DerivationSource {
            isForcedInclusion: false,
            blobSlice: BlobSlice {
                blobHashes: hashes.clone(),
                offset: alloy::primitives::Uint::from(source.blob_slice.offset),
                timestamp: alloy::primitives::Uint::ZERO,
            },
        }],
        signalSlotsHash: commitment::signal_slots_hash(&req.signal_slots),
    };
    let checkpoint = Checkpoint {
        blockNumber: alloy::primitives::Uint::from(number),
        blockHash: hash,
        stateRoot: state_root,
    };
    let commitment_hash = commitment::commitment_hash(
        commitment::proposal_hash(&proposal),
        req.last_finalized_block_hash,
        &checkpoint,
    );
    let input = commitment::public_input(raiko.l2_chain_id, raiko.verifier, commitment_hash);
    let signature = raiko
        .signer
        .sign_hash_sync(&input)
        .map_err(|e| format!("mock signing failed: {e}"))?;
    Ok((Bytes::from(signature.as_bytes().to_vec()), commitment_hash))
}

/// The manifest of a plaintext or (with the key) privacy-mode payload, as the driver opens it.
fn open_payload(framed: &[u8], key: Option<[u8; 32]>) -> Result<DerivationSourceManifest, String> {
    let body = payload::unframe(framed).map_err(|e| format!("blobs: payload: {e}"))?;
    match (payload::scheme(body), key) {
        (Ok((payload::Scheme::Aes256Gcm, _)), Some(key)) => {
            let compressed =
                privacy::decrypt(framed, &key).map_err(|e| format!("blobs: payload: {e}"))?;
            let rlp =
                payload::decompress(&compressed).map_err(|e| format!("blobs: payload: {e}"))?;
            DerivationSourceManifest::from_rlp(&rlp).map_err(|e| format!("blobs: manifest: {e}"))
        }
        _ => DerivationSourceManifest::from_plaintext_payload(framed)
            .map_err(|e| format!("blobs: payload: {e}")),
    }
}

fn decode_blobs(raw: &[Bytes], hashes: &[B256]) -> Result<Vec<Blob>, String> {
    let settings = EnvKzgSettings::Default.get();
    raw.iter()
        .zip(hashes)
        .enumerate()
        .map(|(i, (bytes, expected))| {
            let blob = Blob::try_from(bytes.as_ref())
                .map_err(|_| format!("blobs[{i}]: {} bytes, a blob is 131072", bytes.len()))?;
            let kzg_blob = alloy::eips::eip4844::c_kzg::Blob::new(blob.0);
            let commitment = settings
                .blob_to_kzg_commitment(&kzg_blob)
                .map_err(|e| format!("blobs[{i}]: not a valid blob: {e}"))?;
            let versioned = kzg_to_versioned_hash(commitment.as_slice());
            if versioned != *expected {
                return Err(format!(
                    "sources[0].blobSlice.blobHashes[{i}]: {expected} is not the versioned hash of blobs[{i}] ({versioned})"
                ));
            }
            Ok(blob)
        })
        .collect()
}
