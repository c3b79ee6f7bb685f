//! Client of the taiko driver's REST API (`L2_DRIVER_URL`, JWT): `POST /preconfBlocks`,
//! `POST /reorgStaleBlock`, `GET /status` (catalyst-reference §5).
//!
//! `preconfBlocks` is never retried here: after a timeout the block may or may not have been
//! inserted, and re-sending it with a new timestamp is what produced reorgs in the Taiko driver
//! (taiko-mono #21989). The caller reconciles against the L2 head first.

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes};
use reqwest::{StatusCode, header};
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use url::Url;

use crate::{backoff::Backoff, jwt::JwtAuth, rpc::redact_url};

/// A failed driver call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// No answer in time; for `preconfBlocks` the outcome is unknown.
    #[error("driver {endpoint} {path}: no answer within {timeout_ms} ms")]
    Timeout {
        /// The endpoint, redacted.
        endpoint: String,
        /// The REST path.
        path: &'static str,
        /// The timeout.
        timeout_ms: u64,
    },
    /// The driver refused the request (4xx other than 401): it was not applied.
    #[error("driver {endpoint} {path} refused the request (HTTP {status}): {body}")]
    Rejected {
        /// The endpoint, redacted.
        endpoint: String,
        /// The REST path.
        path: &'static str,
        /// HTTP status.
        status: u16,
        /// The start of the body (the driver's reason).
        body: String,
    },
    /// The driver failed (5xx).
    #[error("driver {endpoint} {path} failed (HTTP {status}): {body}")]
    Server {
        /// The endpoint, redacted.
        endpoint: String,
        /// The REST path.
        path: &'static str,
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// 401 even with a fresh token.
    #[error(
        "driver {endpoint} rejected our JWT: check that JWT_SECRET_FILE_PATH holds the driver's secret"
    )]
    Unauthorized {
        /// The endpoint, redacted.
        endpoint: String,
    },
    /// A 2xx answer without the documented fields.
    #[error("driver {endpoint} {path}: malformed answer: {reason}")]
    Malformed {
        /// The endpoint, redacted.
        endpoint: String,
        /// The REST path.
        path: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Connection-level failure before anything was sent.
    #[error("driver {endpoint} {path}: {message}")]
    Transport {
        /// The endpoint, redacted.
        endpoint: String,
        /// The REST path.
        path: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl DriverError {
    /// True when the request may have been applied although no answer came back.
    pub fn outcome_unknown(&self) -> bool {
        !matches!(
            self,
            DriverError::Rejected { .. } | DriverError::Unauthorized { .. }
        )
    }
}

/// The block the driver is asked to insert (`executableData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutableData {
    /// The block's base fee.
    pub base_fee_per_gas: u64,
    /// Parent number + 1.
    pub block_number: u64,
    /// `[basefeeSharingPctg] ‖ 6 zero bytes`.
    pub extra_data: Bytes,
    /// Coinbase.
    pub fee_recipient: Address,
    /// Manifest gas limit + the anchor's 1,000,000.
    pub gas_limit: u64,
    /// The L2 head it extends.
    pub parent_hash: B256,
    /// Block timestamp.
    pub timestamp: u64,
    /// zlib(RLP([anchor, txs…])).
    pub transactions: Bytes,
}

/// Body of `POST /preconfBlocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreconfBlockRequest {
    /// The block.
    pub executable_data: ExecutableData,
    /// Last block of this sequencer's turn.
    pub end_of_sequencing: bool,
    /// Always false for the proposer's own blocks.
    pub is_forced_inclusion: bool,
}

/// The header fields the driver returns for an inserted block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsertedBlock {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// State root (zero when the driver omits it).
    pub state_root: B256,
    /// Parent hash.
    pub parent_hash: B256,
}

/// Outcome of `POST /reorgStaleBlock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReorgOutcome {
    /// Hash of the new head.
    pub new_head_block_hash: B256,
    /// How many blocks were removed.
    pub blocks_removed: u64,
}

/// `GET /status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverStatus {
    /// Highest preconfirmed block the driver knows.
    #[serde(rename = "highestUnsafeL2PayloadBlockID")]
    pub highest_unsafe: u64,
    /// Hash of the last end-of-sequencing block.
    #[serde(default)]
    pub end_of_sequencing_block_hash: B256,
}

/// Per-call timeouts and the retry budget of idempotent calls.
#[derive(Debug, Clone, Copy)]
pub struct DriverTimeouts {
    /// `preconfBlocks`.
    pub preconf: Duration,
    /// `status` and `reorgStaleBlock`.
    pub status: Duration,
    /// Total time idempotent calls are retried for.
    pub retry_budget: Duration,
}

/// The driver client.
#[derive(Debug, Clone)]
pub struct DriverClient {
    http: reqwest::Client,
    base: Url,
    jwt: JwtAuth,
    timeouts: DriverTimeouts,
}

#[derive(Deserialize)]
struct PreconfAnswer {
    #[serde(rename = "blockHeader")]
    block_header: HeaderAnswer,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeaderAnswer {
    #[serde(deserialize_with = "quantity")]
    number: u64,
    hash: B256,
    #[serde(default)]
    state_root: B256,
    parent_hash: B256,
}

impl PreconfAnswer {
    fn inserted(self) -> InsertedBlock {
        let h = self.block_header;
        InsertedBlock {
            number: h.number,
            hash: h.hash,
            state_root: h.state_root,
            parent_hash: h.parent_hash,
        }
    }
}

/// Reads a `preconfBlocks` answer body as [`DriverClient::preconf_blocks`] does (public so the
/// fuzz targets reach the parser without a driver).
pub fn parse_inserted(body: &[u8]) -> Result<InsertedBlock, serde_json::Error> {
    serde_json::from_slice::<PreconfAnswer>(body).map(PreconfAnswer::inserted)
}

/// A number as a JSON number or a 0x-hex string (geth headers use hex).
fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).map_err(serde::de::Error::custom),
            None => s.parse().map_err(serde::de::Error::custom),
        },
    }
}

const PRECONF: &str = "preconfBlocks";
const REORG: &str = "reorgStaleBlock";
const STATUS: &str = "status";

impl DriverClient {
    /// A client of the driver at `base`.
    pub fn new(http: reqwest::Client, base: Url, jwt: JwtAuth, timeouts: DriverTimeouts) -> Self {
        Self {
            http,
            base,
            jwt,
            timeouts,
        }
    }

    fn endpoint(&self) -> String {
        redact_url(&self.base)
    }

    /// Inserts one preconfirmed block. Not retried (see the module doc).
    pub async fn preconf_blocks(
        &self,
        request: &PreconfBlockRequest,
    ) -> Result<InsertedBlock, DriverError> {
        let body = serde_json::to_vec(request).map_err(|e| self.malformed(PRECONF, e))?;
        let answer: PreconfAnswer = self
            .send(PRECONF, Some(body), self.timeouts.preconf)
            .await?;
        Ok(answer.inserted())
    }

    /// Rolls the L2 back so that `new_head` is the head. Idempotent, so retried within the budget.
    pub async fn reorg_stale_block(&self, new_head: u64) -> Result<ReorgOutcome, DriverError> {
        let body = serde_json::to_vec(&serde_json::json!({"newHeadBlockNumber": new_head}))
            .map_err(|e| self.malformed(REORG, e))?;
        self.retrying(|| self.send(REORG, Some(body.clone()), self.timeouts.status))
            .await
    }

    /// The driver's sync status. Retried within the budget.
    pub async fn status(&self) -> Result<DriverStatus, DriverError> {
        self.retrying(|| self.send(STATUS, None, self.timeouts.status))
            .await
    }

    async fn retrying<T, F, Fut>(&self, call: F) -> Result<T, DriverError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, DriverError>>,
    {
        let deadline = tokio::time::Instant::now() + self.timeouts.retry_budget;
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
        loop {
            match call().await {
                Err(e)
                    if matches!(
                        e,
                        DriverError::Transport { .. }
                            | DriverError::Timeout { .. }
                            | DriverError::Server { .. }
                    ) =>
                {
                    let delay = backoff.next_delay();
                    if tokio::time::Instant::now() + delay > deadline {
                        return Err(e);
                    }
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        path: &'static str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<T, DriverError> {
        let url = format!("{}/{path}", self.base.as_str().trim_end_matches('/'));
        for attempt in 0..2 {
            let request = match &body {
                Some(body) => self.http.post(&url).body(body.clone()),
                None => self.http.get(&url).body("{}"),
            };
            let response = request
                .header(header::AUTHORIZATION, self.jwt.bearer())
                .header(header::CONTENT_TYPE, "application/json")
                .timeout(timeout)
                .send()
                .await
                .map_err(|e| self.transport(path, timeout, e))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                // A 401 means nothing was applied; a fresh token is safe to send.
                continue;
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| self.transport(path, timeout, e))?;
            let text = || String::from_utf8_lossy(&bytes[..bytes.len().min(500)]).into_owned();
            let endpoint = self.endpoint();
            return match status {
                s if s.is_success() => {
                    serde_json::from_slice(&bytes).map_err(|e| self.malformed(path, e))
                }
                StatusCode::UNAUTHORIZED => Err(DriverError::Unauthorized { endpoint }),
                s if s.is_client_error() => Err(DriverError::Rejected {
                    endpoint,
                    path,
                    status: s.as_u16(),
                    body: text(),
                }),
                s => Err(DriverError::Server {
                    endpoint,
                    path,
                    status: s.as_u16(),
                    body: text(),
                }),
            };
        }
        Err(DriverError::Unauthorized {
            endpoint: self.endpoint(),
        })
    }

    fn malformed(&self, path: &'static str, error: impl std::fmt::Display) -> DriverError {
        DriverError::Malformed {
            endpoint: self.endpoint(),
            path,
            reason: error.to_string(),
        }
    }

    fn transport(
        &self,
        path: &'static str,
        timeout: Duration,
        error: reqwest::Error,
    ) -> DriverError {
        if error.is_timeout() {
            DriverError::Timeout {
                endpoint: self.endpoint(),
                path,
                timeout_ms: timeout.as_millis() as u64,
            }
        } else {
            DriverError::Transport {
                endpoint: self.endpoint(),
                path,
                message: crate::rpc::error_chain(&error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_json_matches_the_driver_shape() {
        let request = PreconfBlockRequest {
            executable_data: ExecutableData {
                base_fee_per_gas: 25_000_000,
                block_number: 7,
                extra_data: Bytes::from(vec![75, 0, 0, 0, 0, 0, 0]),
                fee_recipient: Address::repeat_byte(1),
                gas_limit: 31_000_000,
                parent_hash: B256::repeat_byte(2),
                timestamp: 1_700_000_000,
                transactions: Bytes::from(vec![0x78, 0x9c]),
            },
            end_of_sequencing: false,
            is_forced_inclusion: false,
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "executableData": {
                    "baseFeePerGas": 25_000_000u64, "blockNumber": 7, "extraData": "0x4b000000000000",
                    "feeRecipient": "0x0101010101010101010101010101010101010101", "gasLimit": 31_000_000u64,
                    "parentHash": format!("0x{}", "02".repeat(32)), "timestamp": 1_700_000_000u64,
                    "transactions": "0x789c"
                },
                "endOfSequencing": false, "isForcedInclusion": false
            })
        );
    }

    #[test]
    fn header_number_as_hex_or_number_and_optional_state_root() {
        let hash = format!("0x{}", "03".repeat(32));
        let hex: PreconfAnswer = serde_json::from_str(&format!(
            r#"{{"blockHeader":{{"number":"0x1f","hash":"{hash}","parentHash":"{hash}"}}}}"#
        ))
        .unwrap();
        assert_eq!(hex.block_header.number, 31);
        assert_eq!(hex.block_header.state_root, B256::ZERO);
        let num: PreconfAnswer = serde_json::from_str(&format!(
            r#"{{"blockHeader":{{"number":31,"hash":"{hash}","parentHash":"{hash}","stateRoot":"{hash}"}}}}"#
        ))
        .unwrap();
        assert_eq!(num.block_header.number, 31);
        assert!(
            serde_json::from_str::<PreconfAnswer>(r#"{"blockHeader":{"number":"0xzz"}}"#).is_err()
        );
    }
}
