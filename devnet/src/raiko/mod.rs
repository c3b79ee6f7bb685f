//! The Raiko stand-in: `POST /v3/proof/batch/realtime` in the dialect of the real Raiko
//! (NethermindEth/raiko `host/src/server/api/v3/proof/realtime_handler.rs`, `batch/realtime.rs`,
//! `core/src/interfaces.rs`, `taskdb/src/lib.rs`; see `../shared/spec/raiko.md`):
//! - jobs are keyed by the block numbers, `l2_block_hashes`, `last_finalized_block_hash` and
//!   the proof type, as Raiko's proof cache is; a full request of a finished job is a cache
//!   hit, and with `use_cache: false` the proof is handed out once and evicted;
//! - a request with empty `sources` is a status-only poll: for an unknown key it answers, with
//!   HTTP 200, Raiko's `proof not found: expired or never submitted…` error;
//! - statuses are snake_case (`registered`, `work_in_progress`, `zk_any_not_drawn`), failures
//!   one-key objects (`{"anyhow_error": "…"}`), and the rate limit a 429 with an empty body.
//!
//! Unlike Raiko it also refuses to hand out a cached proof whose blocks the L2 no longer has
//! (a client that sends no `l2_block_hashes` gets exactly that from the real Raiko, and its
//! proposal then fails on L1): the devnet fails loudly where production would fail late.
//!
//! Before it signs, it re-derives the proposal from the blobs ([`derive`]), forced-inclusion
//! sources exactly as Raiko's realtime guest does ([`forced`]).
//!
//! Test hooks: `POST /devnet/config` `{"proof_delay_ms": n, "fail": {"kind": "error"|"failed"|
//! "status"|"http500"|"http429"|"timeout"|"not_drawn", "count": n, "status": <TaskStatus>},
//! "rate_limit_per_min": n, "privacy_key": "0x…", "fi_privkey": "0x…"}` sets the proving delay, injects failures
//! (`status` answers the given TaskStatus value), limits requests per minute, and gives the key
//! that opens privacy-mode (scheme 0x01) payloads. `GET /devnet/stats` counts derivations,
//! the forced inclusions derived in them (`forced_derived`) and those of them that were invalid
//! and proved as anchor-only blocks (`forced_empty`), refusals, requests, bytes received, polls
//! and cache hits.

mod derive;
mod forced;
mod hooks;

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, B256, Bytes, keccak256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use axum::{
    Json, Router,
    body::Bytes as Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
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

/// Mutable state: registered jobs, delay, injected failures and counters.
#[derive(Debug, Default)]
pub struct RaikoState {
    jobs: HashMap<B256, Job>,
    /// Time from registration to a ready proof.
    pub proof_delay: Duration,
    fail: Option<Failure>,
    /// Requests per minute allowed (none: unlimited), and the recent requests.
    rate_limit: Option<usize>,
    recent: VecDeque<Instant>,
    /// Proposals re-derived from their blobs, checked and signed.
    derived: u64,
    /// Forced-inclusion sources in those proposals, and the invalid ones among them (each proved
    /// as a block holding only its anchor).
    forced_derived: u64,
    forced_empty: u64,
    /// Requests refused after derivation or checks failed.
    refused: u64,
    /// Requests and request bytes received.
    requests: u64,
    bytes: u64,
    /// Status-only polls, and full requests answered from the cache.
    polls: u64,
    /// Bytes of full submissions and of status-only polls.
    full_bytes: u64,
    poll_bytes: u64,
    cache_hits: u64,
    /// The privacy-mode key, to open scheme-0x01 payloads (`SURGE_PRIVACY_SYMMETRIC_KEY`).
    privacy_key: Option<[u8; 32]>,
    /// The forced-inclusion secret, to open scheme-0x02 payloads (`SURGE_PRIVACY_FI_PRIVKEY`).
    fi_privkey: Option<[u8; 32]>,
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
    /// Answered at least once (Raiko answers `registered` first, then `work_in_progress`).
    seen: bool,
    outcome: Result<(Bytes, B256), String>,
    /// The L2 block hashes the proof is for (read from the chain when it was derived).
    proved: Vec<B256>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Failure {
    kind: FailureKind,
    count: u32,
    /// For `status`: the TaskStatus value to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<Value>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum FailureKind {
    /// A request error: `{"status":"error","error":"task_failed",…}`.
    Error,
    /// A proving task that failed: `data.status = {"anyhow_error": …}`.
    Failed,
    /// Any TaskStatus, given in the failure's `status`.
    Status,
    Http500,
    Http429,
    Timeout,
    NotDrawn,
}

/// The realtime request (snake_case top level, camelCase inside sources).
#[derive(Debug, Deserialize)]
struct ProofRequest {
    l2_block_numbers: Vec<u64>,
    #[serde(default)]
    l2_block_hashes: Vec<B256>,
    proof_type: String,
    max_anchor_block_number: u64,
    last_finalized_block_hash: B256,
    basefee_sharing_pctg: u8,
    #[serde(default)]
    signal_slots: Vec<B256>,
    #[serde(default)]
    sources: Vec<Source>,
    #[serde(default)]
    blobs: Vec<Bytes>,
    checkpoint: Option<RequestCheckpoint>,
    #[serde(default = "proof_of_equivalence")]
    blob_proof_type: String,
    #[serde(default = "yes")]
    use_cache: bool,
}

fn proof_of_equivalence() -> String {
    "proof_of_equivalence".into()
}

fn yes() -> bool {
    true
}

impl ProofRequest {
    /// Raiko's cache key: block numbers, block hashes, the parent and the proof type.
    fn key(&self) -> B256 {
        let mut bytes = Vec::new();
        for n in &self.l2_block_numbers {
            bytes.extend_from_slice(&n.to_be_bytes());
        }
        for h in &self.l2_block_hashes {
            bytes.extend_from_slice(h.as_slice());
        }
        bytes.extend_from_slice(self.last_finalized_block_hash.as_slice());
        bytes.extend_from_slice(self.proof_type.to_ascii_lowercase().as_bytes());
        keccak256(bytes)
    }
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
        .route("/devnet/config", post(hooks::configure))
        .route("/devnet/stats", axum::routing::get(hooks::stats))
        .with_state(raiko)
}

async fn prove(State(raiko): State<Arc<Raiko>>, headers: HeaderMap, body: Body) -> Reply {
    if let Some(key) = &raiko.api_key
        && headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(key.as_str())
    {
        // Raiko's auth layer: 401 with an empty body.
        return (StatusCode::UNAUTHORIZED, Json(Value::Null));
    }
    if over_rate_limit(&raiko, body.len()).await {
        return (StatusCode::TOO_MANY_REQUESTS, Json(Value::Null));
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
    if let Some(failure) = take_failure(&raiko).await {
        return injected(failure, &proof_type).await;
    }
    let request: ProofRequest = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => return error(&proof_type, format!("request: {e}")),
    };
    let key = request.key();
    if request.sources.is_empty() {
        let mut state = raiko.state.lock().await;
        state.polls += 1;
        state.poll_bytes += body.len() as u64;
        drop(state);
        return answer(&raiko, key, &proof_type, request.use_cache).await;
    }
    raiko.state.lock().await.full_bytes += body.len() as u64;
    let known = raiko.state.lock().await.jobs.contains_key(&key);
    if known {
        if let Err(why) = still_the_chain(&raiko, key).await {
            raiko.state.lock().await.refused += 1;
            tracing::warn!(error = %why, "Raiko stand-in refused a stale cache hit");
            return error(&proof_type, why);
        }
        return answer(&raiko, key, &proof_type, request.use_cache).await;
    }
    let derived = match derive::check_and_sign(&raiko, &request).await {
        Ok(derived) => derived,
        Err(why) => {
            raiko.state.lock().await.refused += 1;
            tracing::warn!(error = %why, "Raiko stand-in refused a proof request");
            return error(&proof_type, why);
        }
    };
    let proved = match hashes_on_chain(&raiko, &request.l2_block_numbers).await {
        Ok(hashes) => hashes,
        Err(why) => return error(&proof_type, why),
    };
    let mut state = raiko.state.lock().await;
    state.derived += 1;
    state.forced_derived += derived.forced;
    state.forced_empty += derived.forced_empty;
    state.jobs.insert(
        key,
        Job {
            registered: Instant::now(),
            seen: false,
            outcome: Ok((derived.proof, derived.commitment)),
            proved,
        },
    );
    drop(state);
    answer(&raiko, key, &proof_type, request.use_cache).await
}

/// Counts the request; true when it is over the configured rate limit.
async fn over_rate_limit(raiko: &Raiko, bytes: usize) -> bool {
    let mut state = raiko.state.lock().await;
    state.requests += 1;
    state.bytes += bytes as u64;
    let Some(limit) = state.rate_limit else {
        return false;
    };
    let now = Instant::now();
    while state
        .recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
    {
        state.recent.pop_front();
    }
    if state.recent.len() >= limit {
        return true;
    }
    state.recent.push_back(now);
    false
}

/// The answer for job `key`: its status, its proof, or Raiko's "proof not found" error.
async fn answer(raiko: &Raiko, key: B256, proof_type: &str, use_cache: bool) -> Reply {
    let mut state = raiko.state.lock().await;
    let delay = state.proof_delay;
    let Some(job) = state.jobs.get_mut(&key) else {
        return error(
            proof_type,
            "proof not found: expired or never submitted. Ensure l2_block_hashes matches the original submit request.",
        );
    };
    let first = !job.seen;
    job.seen = true;
    if job.registered.elapsed() < delay {
        let status = if first {
            "registered"
        } else {
            "work_in_progress"
        };
        return ok(proof_type, json!({"status": status}));
    }
    let reply = match &job.outcome {
        Ok((proof, commitment)) => ok(
            proof_type,
            json!({"proof": {"proof": proof, "input": commitment, "quote": null, "uuid": null, "kzg_proof": null}}),
        ),
        Err(why) => ok(proof_type, json!({"status": {"anyhow_error": why}})),
    };
    if !use_cache {
        state.jobs.remove(&key);
    } else if !first {
        state.cache_hits += 1;
    }
    reply
}

fn ok(proof_type: &str, data: Value) -> Reply {
    (
        StatusCode::OK,
        Json(json!({"status": "ok", "proof_type": proof_type, "data": data})),
    )
}

/// An injected failure, as the real Raiko would answer it.
async fn injected(failure: Failure, proof_type: &str) -> Reply {
    match failure.kind {
        FailureKind::Error => error(proof_type, "injected failure: prover error"),
        FailureKind::Failed => ok(
            proof_type,
            json!({"status": {"anyhow_error": "injected failure: the proving task failed"}}),
        ),
        FailureKind::Status => ok(
            proof_type,
            json!({"status": failure.status.unwrap_or(json!("unspecified_failure_reason"))}),
        ),
        FailureKind::NotDrawn => ok("native", json!({"status": "zk_any_not_drawn"})),
        FailureKind::Http500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status": "error", "message": "injected HTTP 500"})),
        ),
        FailureKind::Http429 => (StatusCode::TOO_MANY_REQUESTS, Json(Value::Null)),
        FailureKind::Timeout => {
            tokio::time::sleep(HOLD).await;
            error(proof_type, "injected timeout")
        }
    }
}

/// The L2 chain's hashes of `numbers` now.
async fn hashes_on_chain(raiko: &Raiko, numbers: &[u64]) -> Result<Vec<B256>, String> {
    let mut hashes = Vec::with_capacity(numbers.len());
    for number in numbers {
        let block = raiko
            .l2
            .get_block_by_number((*number).into())
            .await
            .map_err(|e| format!("reading L2 block {number}: {e}"))?
            .ok_or_else(|| format!("L2 block {number} does not exist"))?;
        hashes.push(block.header.hash);
    }
    Ok(hashes)
}

/// A finished job's proof may only be handed out while the L2 still has the blocks it proves.
async fn still_the_chain(raiko: &Raiko, key: B256) -> Result<(), String> {
    let (numbers_hashes, finished) = {
        let state = raiko.state.lock().await;
        let Some(job) = state.jobs.get(&key) else {
            return Ok(());
        };
        (job.proved.clone(), job.outcome.is_ok())
    };
    if !finished || numbers_hashes.is_empty() {
        return Ok(());
    }
    let first = raiko
        .l2
        .get_block_by_hash(numbers_hashes[0])
        .await
        .map_err(|e| e.to_string())?;
    match first {
        Some(_) => Ok(()),
        None => Err(format!(
            "stale cache hit: the cached proof is for L2 blocks the chain no longer has (first was {}); the request's cache key must carry l2_block_hashes",
            numbers_hashes[0]
        )),
    }
}

async fn take_failure(raiko: &Raiko) -> Option<Failure> {
    let mut state = raiko.state.lock().await;
    let fail = state.fail.as_mut()?;
    let taken = fail.clone();
    fail.count = fail.count.saturating_sub(1);
    if fail.count == 0 {
        state.fail = None;
    }
    Some(taken)
}
