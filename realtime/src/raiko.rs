//! Raiko's real-time proof API (catalyst-reference §5): `POST /v3/proof/batch/realtime` with the
//! proposal's blocks, checkpoint, signal slots and blobs; the identical body is re-posted every
//! `RAIKO_POLL_INTERVAL_MS` until the job answers with a proof (`Registered` →
//! `WorkInProgress` → proof). Transient trouble (timeouts, 5xx, a body that is not JSON) is
//! retried within the deadline; a prover's `error` answer ends the request at once.
//!
//! Cancellation is by dropping the future (the submitter aborts its task): nothing is left
//! half-done on our side, and Raiko keeps or drops the job as it likes.

use alloy::{
    eips::eip4844::Blob,
    primitives::{B256, Bytes},
};
use common::{rpc::redact_url, secret::Secret};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use crate::config::ProverConfig;

/// The request body (snake_case at the top, camelCase inside sources, as Raiko reads it).
#[derive(Debug, Clone, Serialize)]
pub struct ProofRequest<'a> {
    /// The proposal's blocks: a contiguous range ending at the checkpoint.
    pub l2_block_numbers: Vec<u64>,
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
    /// The derivation sources: the proposer's blob slice only.
    pub sources: Vec<SourceJson>,
    /// The blobs themselves.
    pub blobs: &'a [Blob],
    /// The proposal's last block.
    pub checkpoint: CheckpointJson,
    /// Always `proof_of_equivalence`.
    pub blob_proof_type: &'static str,
}

/// One derivation source.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceJson {
    /// False: the proposer's own blobs.
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
    /// Always 0.
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
    /// Raiko answered `status: error`.
    #[error("Raiko refused to prove: {0}")]
    Prover(String),
    /// No prover picked the job up (`ZKAnyNotDrawn`).
    #[error("Raiko: no prover drew the job (ZKAnyNotDrawn)")]
    NotDrawn,
    /// Raiko rejected the API key.
    #[error("Raiko rejected the request with HTTP {0}: check RAIKO_API_KEY")]
    Unauthorized(u16),
    /// An `ok` answer without a proof or a status.
    #[error("Raiko answered ok without a proof or a status: {0}")]
    Empty(String),
    /// The proof field is not hex.
    #[error("Raiko's proof is not hex: {0}")]
    BadProof(String),
    /// The polls or the deadline ran out.
    #[error(
        "no proof after {polls} polls in {elapsed_ms} ms (last: {last}); raise RAIKO_MAX_RETRIES or RAIKO_DEADLINE_SEC if the prover is just slow"
    )]
    OutOfTime {
        /// Polls made.
        polls: u64,
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
            ProofError::Prover(_) => "prover_error",
            ProofError::NotDrawn => "not_drawn",
            ProofError::Unauthorized(_) => "unauthorized",
            ProofError::Empty(_) | ProofError::BadProof(_) => "bad_answer",
            ProofError::OutOfTime { .. } => "out_of_time",
            ProofError::Encode(_) => "encode",
        }
    }
}

/// What one post returned.
enum Answer {
    Proof(Bytes),
    Pending(String),
    Transient(String),
}

/// Talks to one Raiko.
#[derive(Clone)]
pub struct RaikoClient {
    http: reqwest::Client,
    endpoint: Url,
    api_key: Option<Secret<String>>,
    config: ProverConfig,
}

impl RaikoClient {
    /// A client for the Raiko in `config`.
    pub fn new(http: reqwest::Client, config: ProverConfig) -> Self {
        let base = config.url.as_str().trim_end_matches('/');
        let endpoint = Url::parse(&format!("{base}/v3/proof/batch/realtime"))
            .unwrap_or_else(|_| config.url.clone());
        Self {
            http,
            endpoint,
            api_key: config.api_key.clone(),
            config,
        }
    }

    /// Requests the proof and polls until it is ready; returns Raiko's raw proof bytes.
    pub async fn prove(&self, request: &ProofRequest<'_>) -> Result<Bytes, ProofError> {
        let body = serde_json::to_vec(request).map_err(|e| ProofError::Encode(e.to_string()))?;
        let started = Instant::now();
        let mut last = String::from("nothing yet");
        for poll in 1..=self.config.max_polls {
            match self.post(&body).await? {
                Answer::Proof(proof) => return Ok(proof),
                Answer::Pending(status) => last = status,
                Answer::Transient(why) => {
                    tracing::warn!(poll, error = %why, raiko = %redact_url(&self.config.url),
                        "Raiko request failed; retrying");
                    last = why;
                }
            }
            if started.elapsed() + self.config.poll_interval > self.config.deadline {
                return Err(ProofError::OutOfTime {
                    polls: poll,
                    elapsed_ms: started.elapsed().as_millis() as u64,
                    last,
                });
            }
            tokio::time::sleep(self.config.poll_interval).await;
        }
        Err(ProofError::OutOfTime {
            polls: self.config.max_polls,
            elapsed_ms: started.elapsed().as_millis() as u64,
            last,
        })
    }

    async fn post(&self, body: &[u8]) -> Result<Answer, ProofError> {
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .timeout(self.config.request_timeout)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(key) = &self.api_key {
            request = request.header("X-API-KEY", key.expose());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Ok(Answer::Transient(format!(
                    "no answer within {} s",
                    self.config.request_timeout.as_secs()
                )));
            }
            Err(e) => return Ok(Answer::Transient(common::rpc::error_chain(&e))),
        };
        let status = response.status();
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(ProofError::Unauthorized(status.as_u16()));
        }
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return Ok(Answer::Transient(common::rpc::error_chain(&e))),
        };
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            return Ok(Answer::Transient(format!(
                "HTTP {status}, body is not JSON: {}",
                text.chars().take(200).collect::<String>()
            )));
        };
        interpret(status.as_u16(), &value)
    }
}

/// Reads one answer of the realtime API.
fn interpret(http_status: u16, value: &Value) -> Result<Answer, ProofError> {
    let message = || {
        value["message"]
            .as_str()
            .or_else(|| value["error"].as_str())
            .unwrap_or("no message")
            .to_string()
    };
    match value["status"].as_str() {
        Some("error") if http_status >= 500 => {
            return Ok(Answer::Transient(format!(
                "HTTP {http_status}: {}",
                message()
            )));
        }
        Some("error") => return Err(ProofError::Prover(message())),
        Some("ok") => {}
        _ if http_status >= 500 => {
            return Ok(Answer::Transient(format!("HTTP {http_status}: {value}")));
        }
        other => return Err(ProofError::Empty(format!("status {other:?}"))),
    }
    let data = &value["data"];
    if let Some(proof) = data["proof"]["proof"].as_str() {
        let hex = proof.strip_prefix("0x").unwrap_or(proof);
        return alloy::primitives::hex::decode(hex)
            .map(|b| Answer::Proof(Bytes::from(b)))
            .map_err(|e| ProofError::BadProof(e.to_string()));
    }
    match data["status"].as_str() {
        Some("ZKAnyNotDrawn") => Err(ProofError::NotDrawn),
        Some(status) => Ok(Answer::Pending(status.to_string())),
        None => Err(ProofError::Empty(data.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_read_as_the_realtime_api_defines_them() {
        let ok = |data: Value| json!({"status": "ok", "proof_type": "sp1", "data": data});
        assert!(matches!(
            interpret(200, &ok(json!({"proof": {"proof": "0x0102"}}))),
            Ok(Answer::Proof(p)) if p.as_ref() == [1, 2]
        ));
        assert!(matches!(
            interpret(200, &ok(json!({"status": "WorkInProgress"}))),
            Ok(Answer::Pending(s)) if s == "WorkInProgress"
        ));
        assert_eq!(
            interpret(200, &ok(json!({"status": "ZKAnyNotDrawn"}))).err(),
            Some(ProofError::NotDrawn)
        );
        assert_eq!(
            interpret(200, &json!({"status": "error", "message": "bad blob"})).err(),
            Some(ProofError::Prover("bad blob".into()))
        );
        assert!(matches!(
            interpret(500, &json!({"status": "error", "message": "overloaded"})),
            Ok(Answer::Transient(_))
        ));
        assert!(matches!(
            interpret(200, &ok(json!({"proof": {"proof": "0xzz"}}))),
            Err(ProofError::BadProof(_))
        ));
        assert!(matches!(
            interpret(200, &ok(json!({}))),
            Err(ProofError::Empty(_))
        ));
    }

    #[test]
    fn the_request_json_has_raikos_field_names() {
        let blobs = vec![Blob::ZERO];
        let request = ProofRequest {
            l2_block_numbers: vec![5, 6],
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
            blobs: &blobs,
            checkpoint: CheckpointJson {
                block_number: 6,
                block_hash: B256::repeat_byte(3),
                state_root: B256::repeat_byte(4),
            },
            blob_proof_type: "proof_of_equivalence",
        };
        let v = serde_json::to_value(&request).unwrap();
        assert_eq!(v["l2_block_numbers"], json!([5, 6]));
        assert_eq!(v["sources"][0]["isForcedInclusion"], json!(false));
        assert_eq!(
            v["sources"][0]["blobSlice"]["blobHashes"][0],
            json!(B256::repeat_byte(2))
        );
        assert_eq!(v["checkpoint"]["block_number"], json!(6));
        assert_eq!(v["blobs"][0].as_str().unwrap().len(), 2 + 2 * 131_072);
        assert!(v.get("network").is_none() && v.get("prover").is_none());
    }
}
