//! Client of the L2 execution engine's auth RPC (`L2_AUTH_RPC_URL`, JWT): the pool content the
//! next block is built from (`taikoAuth_txPoolContentWithMinTip`, catalyst-reference §5).

use std::time::Duration;

use alloy::{consensus::TxEnvelope, primitives::Address};
use reqwest::{StatusCode, header};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::{jwt::JwtAuth, rpc::redact_url};

/// A failed auth-RPC call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// No answer within the per-call timeout.
    #[error("L2 auth RPC {endpoint}: no answer within {timeout_ms} ms")]
    Timeout {
        /// The endpoint, redacted.
        endpoint: String,
        /// The timeout.
        timeout_ms: u64,
    },
    /// 401 even with a fresh token: the secret differs from the engine's.
    #[error(
        "L2 auth RPC {endpoint} rejected our JWT: check that JWT_SECRET_FILE_PATH holds the engine's secret"
    )]
    Unauthorized {
        /// The endpoint, redacted.
        endpoint: String,
    },
    /// A non-2xx HTTP status.
    #[error("L2 auth RPC {endpoint}: HTTP {status}: {body}")]
    Http {
        /// The endpoint, redacted.
        endpoint: String,
        /// HTTP status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A JSON-RPC error object.
    #[error("L2 auth RPC {endpoint}: {method} failed with code {code}: {message}")]
    Rpc {
        /// The endpoint, redacted.
        endpoint: String,
        /// The method called.
        method: &'static str,
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The answer does not have the documented shape.
    #[error("L2 auth RPC {endpoint}: malformed {method} answer: {reason}")]
    Malformed {
        /// The endpoint, redacted.
        endpoint: String,
        /// The method called.
        method: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Connection-level failure.
    #[error("L2 auth RPC {endpoint}: {message}")]
    Transport {
        /// The endpoint, redacted.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
}

/// What the next block may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolQuery {
    /// Fee recipient of the block.
    pub beneficiary: Address,
    /// The block's base fee: txs paying less are not returned.
    pub base_fee: u64,
    /// Gas available after the anchor.
    pub max_gas: u64,
    /// Byte budget of the (uncompressed) tx list.
    pub max_bytes: u64,
}

/// The auth-RPC client.
#[derive(Debug, Clone)]
pub struct EngineClient {
    http: reqwest::Client,
    url: Url,
    jwt: JwtAuth,
    timeout: Duration,
}

const POOL_METHOD: &str = "taikoAuth_txPoolContentWithMinTip";

#[derive(Deserialize)]
struct Envelope<T> {
    result: Option<T>,
    error: Option<RpcErrorBody>,
}

#[derive(Deserialize)]
struct RpcErrorBody {
    code: i64,
    message: String,
}

/// One list as taiko-geth returns it (PascalCase; camelCase also accepted).
#[derive(Deserialize)]
struct PoolList {
    #[serde(rename = "TxList", alias = "txList")]
    tx_list: Vec<TxEnvelope>,
}

/// Why a pool-content body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolContentError {
    /// The engine answered with a JSON-RPC error.
    Rpc(i64, String),
    /// The body does not have the documented shape.
    Malformed(String),
}

/// Parses a `taikoAuth_txPoolContentWithMinTip` response body: `null` or an array of lists of
/// which only the first is used. Public so the block-build benchmark measures the real parser.
pub fn parse_pool_content(body: &[u8]) -> Result<Vec<TxEnvelope>, PoolContentError> {
    let envelope: Envelope<Option<Vec<PoolList>>> =
        serde_json::from_slice(body).map_err(|e| PoolContentError::Malformed(e.to_string()))?;
    if let Some(error) = envelope.error {
        return Err(PoolContentError::Rpc(error.code, error.message));
    }
    Ok(envelope
        .result
        .flatten()
        .and_then(|lists| lists.into_iter().next())
        .map(|list| list.tx_list)
        .unwrap_or_default())
}

impl EngineClient {
    /// A client whose calls time out after `timeout`.
    pub fn new(http: reqwest::Client, url: Url, jwt: JwtAuth, timeout: Duration) -> Self {
        Self {
            http,
            url,
            jwt,
            timeout,
        }
    }

    fn endpoint(&self) -> String {
        redact_url(&self.url)
    }

    /// Pending txs that fit `query`, in the order the engine chose (nonce order per sender).
    pub async fn pool_content(&self, query: &PoolQuery) -> Result<Vec<TxEnvelope>, EngineError> {
        let params = json!([
            query.beneficiary,
            query.base_fee,
            query.max_gas,
            query.max_bytes,
            [],
            1,
            0
        ]);
        let body = self.call(POOL_METHOD, params).await?;
        parse_pool_content(&body).map_err(|e| match e {
            PoolContentError::Rpc(code, message) => EngineError::Rpc {
                endpoint: self.endpoint(),
                method: POOL_METHOD,
                code,
                message,
            },
            PoolContentError::Malformed(reason) => EngineError::Malformed {
                endpoint: self.endpoint(),
                method: POOL_METHOD,
                reason,
            },
        })
    }

    /// Posts one call; a 401 is retried once with a freshly minted token.
    async fn call(&self, method: &str, params: serde_json::Value) -> Result<Vec<u8>, EngineError> {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        for attempt in 0..2 {
            let sent = self
                .http
                .post(self.url.clone())
                .header(header::AUTHORIZATION, self.jwt.bearer())
                .timeout(self.timeout)
                .json(&request)
                .send()
                .await;
            let response = sent.map_err(|e| self.transport(e))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED {
                if attempt == 0 {
                    continue;
                }
                return Err(EngineError::Unauthorized {
                    endpoint: self.endpoint(),
                });
            }
            let body = response.bytes().await.map_err(|e| self.transport(e))?;
            if !status.is_success() {
                return Err(EngineError::Http {
                    endpoint: self.endpoint(),
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
                });
            }
            return Ok(body.to_vec());
        }
        Err(EngineError::Unauthorized {
            endpoint: self.endpoint(),
        })
    }

    fn transport(&self, error: reqwest::Error) -> EngineError {
        if error.is_timeout() {
            EngineError::Timeout {
                endpoint: self.endpoint(),
                timeout_ms: self.timeout.as_millis() as u64,
            }
        } else {
            EngineError::Transport {
                endpoint: self.endpoint(),
                message: crate::rpc::error_chain(&error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_content_shapes() {
        assert_eq!(
            parse_pool_content(br#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap(),
            vec![]
        );
        assert_eq!(
            parse_pool_content(br#"{"jsonrpc":"2.0","id":1,"result":[]}"#).unwrap(),
            vec![]
        );
        assert_eq!(
            parse_pool_content(br#"{"id":1,"result":[{"txList":[],"EstimatedGasUsed":0}]}"#)
                .unwrap(),
            vec![]
        );
        assert_eq!(
            parse_pool_content(br#"{"id":1,"error":{"code":-32000,"message":"boom"}}"#),
            Err(PoolContentError::Rpc(-32000, "boom".into()))
        );
        for bad in [
            &br#"{"id":1,"result":[{"TxList":[{"type":"0x2"}]}]}"#[..],
            br#"{"id":1,"result":{"TxList":[]}}"#,
            br#"not json"#,
            br#"{"id":1,"result":[{"TxList":"0x00"}]}"#,
        ] {
            assert!(matches!(
                parse_pool_content(bad),
                Err(PoolContentError::Malformed(reason)) if !reason.is_empty()
            ));
        }
    }
}
