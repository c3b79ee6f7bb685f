//! Raiko's real-time proof API as the real Raiko speaks it (NethermindEth/raiko:
//! `core/src/interfaces.rs` `RealTimeProofRequestOpt`, `host/src/server/api/v3/proof/
//! realtime_handler.rs` and `batch/realtime.rs`, `taskdb/src/lib.rs` `TaskStatus`), not as the
//! peer's client reads it:
//! - `POST /v3/proof/batch/realtime`; the first request carries the blobs, later polls are
//!   status-only (`sources: []`, `blobs: []`) for the same cache key. The key is the block
//!   numbers, `l2_block_hashes`, `last_finalized_block_hash`, the proof type, prover and image,
//!   so the block hashes are always sent: without them a re-proposal of the same numbers with
//!   other contents would be answered from the cache with the old proof.
//! - An unknown or expired key answers (HTTP 200) `{"status":"error","error":"task_failed",
//!   "message":"proof not found: expired or never submitted…"}`: submit in full again.
//! - `data.status` is a `TaskStatus` in serde's snake_case, where a name that already holds an
//!   `_` gets a second one (`proof_failure__generic`), and the variants that carry a reason are
//!   one-key objects (`{"anyhow_error": "…"}`); every one is classified here.
//! - The rate limit answers 429 with an empty body; a 5xx or a broken connection is transient.

use std::{sync::Arc, time::Duration};

use alloy::{
    eips::eip4844::Blob,
    primitives::{B256, Bytes},
};
use serde::Serialize;
use serde_json::Value;

/// The request body (snake_case at the top, camelCase inside sources, as Raiko reads it).
#[derive(Debug, Clone, Serialize)]
pub struct ProofRequest {
    /// The proposal's blocks: a contiguous range ending at the checkpoint.
    pub l2_block_numbers: Vec<u64>,
    /// Their hashes, in the same order (part of Raiko's cache key).
    pub l2_block_hashes: Vec<B256>,
    /// `sp1`, `risc0` or `zisk`.
    pub proof_type: &'static str,
    /// The proposal's anchor block.
    pub max_anchor_block_number: u64,
    /// The L2 block the proposal builds on.
    pub last_finalized_block_hash: B256,
    /// The inbox's basefee-sharing percentage.
    pub basefee_sharing_pctg: u8,
    /// The proposal's signal slots, in order.
    pub signal_slots: Vec<B256>,
    /// The derivation sources as the inbox hashes them: the consumed forced inclusions in
    /// queue order, then the proposer's blob slice.
    pub sources: Vec<SourceJson>,
    /// The blobs themselves, one per blob hash of `sources`, in the same order.
    pub blobs: Arc<Vec<Blob>>,
    /// The proposal's last block.
    pub checkpoint: CheckpointJson,
    /// Always `proof_of_equivalence`.
    pub blob_proof_type: &'static str,
    /// Whether Raiko may keep the finished proof (`false`: handed out once, then evicted).
    pub use_cache: bool,
}

impl ProofRequest {
    /// The first request: everything, blobs included.
    pub fn full_body(&self) -> Result<Bytes, serde_json::Error> {
        serde_json::to_vec(self).map(Bytes::from)
    }

    /// A status-only poll of the same job: no sources, no blobs (Raiko looks the key up).
    pub fn poll_body(&self) -> Result<Bytes, serde_json::Error> {
        let poll = ProofRequest {
            sources: Vec::new(),
            blobs: Arc::new(Vec::new()),
            ..self.clone()
        };
        serde_json::to_vec(&poll).map(Bytes::from)
    }
}

/// One derivation source.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceJson {
    /// True: a forced inclusion's blob; false: the proposer's own blobs.
    pub is_forced_inclusion: bool,
    /// Where the payload is.
    pub blob_slice: BlobSliceJson,
}

/// A blob slice as the inbox commits to it (timestamp 0 for the proposer's slice).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobSliceJson {
    /// Versioned hashes, in blob order.
    pub blob_hashes: Vec<B256>,
    /// Offset of the frame.
    pub offset: u32,
    /// When a forced inclusion was saved; 0 for the proposer's slice.
    pub timestamp: u64,
}

/// The checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointJson {
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// State root.
    pub state_root: B256,
}

/// Why no proof came back.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// Raiko refused the request (`status: error`), e.g. a malformed request.
    #[error("Raiko refused the request: {0}")]
    Refused(String),
    /// The proving task ended without a proof (a terminal `TaskStatus`).
    #[error("Raiko's proving task failed: {0}")]
    Failed(String),
    /// Raiko rejected the API key.
    #[error("Raiko rejected the request with HTTP {0}: check RAIKO_API_KEY")]
    Unauthorized(u16),
    /// The proof field is not hex.
    #[error("Raiko's proof is not hex: {0}")]
    BadProof(String),
    /// The deadline ran out.
    #[error(
        "no proof within {elapsed_ms} ms after {requests} requests (last: {last}); raise RAIKO_DEADLINE_SEC if the prover is just slow"
    )]
    OutOfTime {
        /// Requests made.
        requests: u64,
        /// Time spent.
        elapsed_ms: u64,
        /// The last status or error seen.
        last: String,
    },
    /// The request could not be serialised.
    #[error("the proof request could not be encoded: {0}")]
    Encode(String),
}

impl ProofError {
    /// Label for the failure metric.
    pub fn label(&self) -> &'static str {
        match self {
            ProofError::Refused(_) => "refused",
            ProofError::Failed(_) => "task_failed",
            ProofError::Unauthorized(_) => "unauthorized",
            ProofError::BadProof(_) => "bad_answer",
            ProofError::OutOfTime { .. } => "out_of_time",
            ProofError::Encode(_) => "encode",
        }
    }
}

/// What one answer of Raiko says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The proof.
    Proof(Bytes),
    /// Still working (`registered`, `work_in_progress`): poll again.
    Pending(String),
    /// No prover was drawn for a `*_any` request: submit again later.
    NotDrawn(String),
    /// Raiko does not know the job (never submitted, expired, evicted): submit in full.
    Unknown(String),
    /// The job or request ended without a proof; a retry will not help by itself.
    Final(ProofError),
    /// Over the rate limit: wait (this long, when Raiko says).
    RateLimited(Option<Duration>),
    /// Trouble on the way (no answer, 5xx, not JSON): try again.
    Transient(String),
}

impl Answer {
    /// Label for `prover_requests_total{outcome}`.
    pub fn label(&self) -> &'static str {
        match self {
            Answer::Proof(_) => "proof",
            Answer::Pending(_) => "pending",
            Answer::NotDrawn(_) => "not_drawn",
            Answer::Unknown(_) => "unknown_job",
            Answer::Final(_) => "failed",
            Answer::RateLimited(_) => "rate_limited",
            Answer::Transient(_) => "transient",
        }
    }
}

/// What a `TaskStatus` means for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusClass {
    /// Poll again.
    Pending,
    /// No prover drawn: submit again.
    NotDrawn,
    /// Ended without a proof, with Raiko's reason.
    Failed(String),
}

/// Classifies a `data.status` value (a snake_case name, or a one-key object with a reason).
pub fn classify(status: &Value) -> StatusClass {
    match status {
        Value::String(name) => match name.as_str() {
            "registered" | "work_in_progress" => StatusClass::Pending,
            // The proof is handed out with the status: a bare `success` is a poll too early.
            "success" => StatusClass::Pending,
            "zk_any_not_drawn" | "sgx_any_not_drawn" => StatusClass::NotDrawn,
            other => StatusClass::Failed(other.to_string()),
        },
        Value::Object(fields) if fields.len() == 1 => {
            let (name, reason) = fields
                .iter()
                .next()
                .map_or(("", &Value::Null), |(k, v)| (k.as_str(), v));
            let reason = reason
                .as_str()
                .map_or_else(|| reason.to_string(), str::to_string);
            StatusClass::Failed(format!("{name}: {reason}"))
        }
        other => StatusClass::Failed(format!("unrecognised status {other}")),
    }
}

/// Reads one answer; `retry_after` is the `Retry-After` header, when there is one.
pub fn interpret(http_status: u16, body: &str, retry_after: Option<Duration>) -> Answer {
    match http_status {
        401 | 403 => return Answer::Final(ProofError::Unauthorized(http_status)),
        429 => return Answer::RateLimited(retry_after),
        503 => return Answer::RateLimited(retry_after),
        s if s >= 500 => {
            return Answer::Transient(format!(
                "HTTP {s}: {}",
                body.chars().take(200).collect::<String>()
            ));
        }
        _ => {}
    }
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return Answer::Transient(format!(
            "HTTP {http_status}, body is not JSON: {}",
            body.chars().take(200).collect::<String>()
        ));
    };
    let message = || {
        value["message"]
            .as_str()
            .or_else(|| value["error"].as_str())
            .unwrap_or("no message")
            .to_string()
    };
    match value["status"].as_str() {
        Some("error") => {
            let message = message();
            if message.to_ascii_lowercase().contains("proof not found") {
                return Answer::Unknown(message);
            }
            return Answer::Final(ProofError::Refused(message));
        }
        Some("ok") => {}
        other => {
            return Answer::Transient(format!(
                "HTTP {http_status}, envelope status {other:?}: {}",
                value.to_string().chars().take(200).collect::<String>()
            ));
        }
    }
    let data = &value["data"];
    if let Some(proof) = data["proof"]["proof"].as_str() {
        let hex = proof.strip_prefix("0x").unwrap_or(proof);
        return match alloy::primitives::hex::decode(hex) {
            Ok(bytes) => Answer::Proof(Bytes::from(bytes)),
            Err(e) => Answer::Final(ProofError::BadProof(e.to_string())),
        };
    }
    match classify(&data["status"]) {
        StatusClass::Pending => Answer::Pending(data["status"].to_string()),
        StatusClass::NotDrawn => Answer::NotDrawn(data["status"].to_string()),
        StatusClass::Failed(reason) => Answer::Final(ProofError::Failed(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    /// Raiko's `TaskStatus` (taskdb/src/lib.rs), names and serde attributes as there, so the
    /// spellings below come from serde itself, not from us.
    #[allow(non_camel_case_types)]
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum TaskStatus {
        Success,
        Registered,
        WorkInProgress,
        ProofFailure_Generic,
        ProofFailure_OutOfMemory,
        NetworkFailure(String),
        Cancelled,
        Cancelled_NeverStarted,
        Cancelled_Aborted,
        CancellationInProgress,
        InvalidOrUnsupportedBlock,
        #[serde(rename = "zk_any_not_drawn")]
        ZKAnyNotDrawn,
        #[serde(rename = "sgx_any_not_drawn")]
        SGXAnyNotDrawn,
        IoFailure(String),
        AnyhowError(String),
        GuestProverFailure(String),
        UnspecifiedFailureReason,
        TaskDbCorruption(String),
        SystemPaused,
    }

    #[test]
    fn every_task_status_of_the_real_enum_is_classified_with_its_reason() {
        use TaskStatus::*;
        let reason = || "disk full".to_string();
        let cases = [
            (Registered, StatusClass::Pending),
            (WorkInProgress, StatusClass::Pending),
            (Success, StatusClass::Pending),
            (ZKAnyNotDrawn, StatusClass::NotDrawn),
            (SGXAnyNotDrawn, StatusClass::NotDrawn),
        ];
        for (status, class) in cases {
            let value = serde_json::to_value(&status).unwrap();
            assert_eq!(classify(&value), class, "{status:?} as {value}");
        }
        let failures = [
            (ProofFailure_Generic, "proof_failure__generic"),
            (ProofFailure_OutOfMemory, "proof_failure__out_of_memory"),
            (Cancelled, "cancelled"),
            (Cancelled_NeverStarted, "cancelled__never_started"),
            (Cancelled_Aborted, "cancelled__aborted"),
            (CancellationInProgress, "cancellation_in_progress"),
            (InvalidOrUnsupportedBlock, "invalid_or_unsupported_block"),
            (UnspecifiedFailureReason, "unspecified_failure_reason"),
            (SystemPaused, "system_paused"),
            (NetworkFailure(reason()), "network_failure: disk full"),
            (IoFailure(reason()), "io_failure: disk full"),
            (AnyhowError(reason()), "anyhow_error: disk full"),
            (
                GuestProverFailure(reason()),
                "guest_prover_failure: disk full",
            ),
            (TaskDbCorruption(reason()), "task_db_corruption: disk full"),
        ];
        for (status, why) in failures {
            let value = serde_json::to_value(&status).unwrap();
            assert_eq!(
                classify(&value),
                StatusClass::Failed(why.to_string()),
                "{status:?} as {value}"
            );
        }
    }

    #[test]
    fn answers_are_read_as_raiko_writes_them() {
        let ok =
            |data: Value| json!({"status": "ok", "proof_type": "sp1", "data": data}).to_string();
        assert_eq!(
            interpret(200, &ok(json!({"proof": {"proof": "0x0102"}})), None),
            Answer::Proof(Bytes::from(vec![1, 2]))
        );
        assert!(matches!(
            interpret(200, &ok(json!({"status": "work_in_progress"})), None),
            Answer::Pending(_)
        ));
        assert!(matches!(
            interpret(200, &ok(json!({"status": "zk_any_not_drawn"})), None),
            Answer::NotDrawn(_)
        ));
        assert_eq!(
            interpret(
                200,
                &ok(json!({"status": {"anyhow_error": "guest failed"}})),
                None
            ),
            Answer::Final(ProofError::Failed("anyhow_error: guest failed".into()))
        );
        let missing = json!({"status": "error", "error": "task_failed",
            "message": "proof not found: expired or never submitted. Ensure l2_block_hashes matches the original submit request."});
        assert!(matches!(
            interpret(200, &missing.to_string(), None),
            Answer::Unknown(_)
        ));
        assert_eq!(
            interpret(
                200,
                &json!({"status": "error", "message": "bad blob"}).to_string(),
                None
            ),
            Answer::Final(ProofError::Refused("bad blob".into()))
        );
        assert_eq!(
            interpret(429, "", Some(Duration::from_secs(3))),
            Answer::RateLimited(Some(Duration::from_secs(3)))
        );
        assert!(matches!(
            interpret(500, "overloaded", None),
            Answer::Transient(_)
        ));
        assert!(matches!(
            interpret(200, "<html>", None),
            Answer::Transient(_)
        ));
        assert_eq!(
            interpret(401, "", None),
            Answer::Final(ProofError::Unauthorized(401))
        );
        assert!(matches!(
            interpret(200, &ok(json!({"proof": {"proof": "0xzz"}})), None),
            Answer::Final(ProofError::BadProof(_))
        ));
    }

    #[test]
    fn the_first_request_carries_the_blobs_and_a_poll_only_the_key() {
        let request = ProofRequest {
            l2_block_numbers: vec![5, 6],
            l2_block_hashes: vec![B256::repeat_byte(5), B256::repeat_byte(6)],
            proof_type: "sp1",
            max_anchor_block_number: 9,
            last_finalized_block_hash: B256::repeat_byte(1),
            basefee_sharing_pctg: 75,
            signal_slots: vec![],
            sources: vec![SourceJson {
                is_forced_inclusion: false,
                blob_slice: BlobSliceJson {
                    blob_hashes: vec![B256::repeat_byte(2)],
                    offset: 0,
                    timestamp: 0,
                },
            }],
            blobs: Arc::new(vec![Blob::ZERO; 6]),
            checkpoint: CheckpointJson {
                block_number: 6,
                block_hash: B256::repeat_byte(3),
                state_root: B256::repeat_byte(4),
            },
            blob_proof_type: "proof_of_equivalence",
            use_cache: true,
        };
        let full: Value = serde_json::from_slice(&request.full_body().unwrap()).unwrap();
        assert_eq!(full["l2_block_numbers"], json!([5, 6]));
        assert_eq!(full["l2_block_hashes"][1], json!(B256::repeat_byte(6)));
        assert_eq!(full["use_cache"], json!(true));
        assert_eq!(full["sources"][0]["isForcedInclusion"], json!(false));
        assert_eq!(
            full["sources"][0]["blobSlice"]["blobHashes"][0],
            json!(B256::repeat_byte(2))
        );
        assert_eq!(full["checkpoint"]["block_number"], json!(6));
        assert_eq!(full["blobs"][0].as_str().unwrap().len(), 2 + 2 * 131_072);
        let poll: Value = serde_json::from_slice(&request.poll_body().unwrap()).unwrap();
        assert_eq!(
            poll["sources"],
            json!([]),
            "empty sources: a status-only poll"
        );
        assert_eq!(poll["blobs"], json!([]));
        assert_eq!(
            poll["l2_block_hashes"], full["l2_block_hashes"],
            "the same cache key"
        );
        let (full_len, poll_len) = (
            request.full_body().unwrap().len(),
            request.poll_body().unwrap().len(),
        );
        // A real prover takes ~10 s: five polls at the default 2 s.
        let polls = 5;
        println!(
            "RESULT prover bytes_per_proof_6_blobs before={} after={} (full={full_len} poll={poll_len} polls={polls})",
            polls * full_len,
            full_len + (polls - 1) * poll_len
        );
        assert!(poll_len * 1_000 < full_len);
    }
}
