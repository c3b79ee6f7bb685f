//! Client of the L2 execution engine's auth RPC (`L2_AUTH_RPC_URL`, JWT): the pool content the
//! next block is built from (`taikoAuth_txPoolContentWithMinTip`, catalyst-reference §5).

use std::time::Duration;

use alloy::{
    consensus::{Signed, TxEip1559, TxEnvelope},
    eips::eip2930::AccessList,
    primitives::{Address, Bytes, Signature, TxKind, U256},
};
use rayon::prelude::*;
use reqwest::{StatusCode, header};
use serde::Deserialize;
use serde_json::{json, value::RawValue};
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

/// One list as taiko-geth returns it (PascalCase; camelCase also accepted). The txs are kept
/// raw here and decoded across cores: decoding is most of a block's node-side work.
#[derive(Deserialize)]
struct PoolList<'a> {
    #[serde(rename = "TxList", alias = "txList", borrow)]
    tx_list: Vec<&'a RawValue>,
}

/// Below this many txs a list is decoded on the calling thread.
const PARALLEL_DECODE_MIN: usize = 64;

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
    let envelope: Envelope<Option<Vec<PoolList<'_>>>> =
        serde_json::from_slice(body).map_err(|e| PoolContentError::Malformed(e.to_string()))?;
    if let Some(error) = envelope.error {
        return Err(PoolContentError::Rpc(error.code, error.message));
    }
    let raw = envelope
        .result
        .flatten()
        .and_then(|lists| lists.into_iter().next())
        .map(|list| list.tx_list)
        .unwrap_or_default();
    let decode = |(i, tx): (usize, &&RawValue)| match decode_eip1559(tx.get()) {
        Some(tx) => Ok(tx),
        None => serde_json::from_str::<TxEnvelope>(tx.get())
            .map_err(|e| PoolContentError::Malformed(format!("TxList[{i}]: {e}"))),
    };
    if raw.len() < PARALLEL_DECODE_MIN {
        raw.iter().enumerate().map(decode).collect()
    } else {
        raw.par_iter().enumerate().map(decode).collect()
    }
}

/// An EIP-1559 tx as the engine's JSON carries it (fields the tx does not need are skipped).
/// Quantities stay borrowed text: `ruint`'s generic parser was a third of the block's work.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Eip1559Json<'a> {
    #[serde(rename = "type")]
    ty: &'a str,
    chain_id: &'a str,
    nonce: &'a str,
    gas: &'a str,
    max_fee_per_gas: &'a str,
    max_priority_fee_per_gas: &'a str,
    to: Option<Address>,
    value: &'a str,
    input: Bytes,
    access_list: AccessList,
    r: &'a str,
    s: &'a str,
    y_parity: Option<&'a str>,
    v: Option<&'a str>,
}

/// A JSON-RPC quantity (`0x`-prefixed hex, at most 256 bits).
fn quantity(text: &str) -> Option<U256> {
    let digits = text.strip_prefix("0x")?;
    if digits.is_empty() || digits.len() > 64 {
        return None;
    }
    let mut padded = [b'0'; 64];
    padded[64 - digits.len()..].copy_from_slice(digits.as_bytes());
    let mut bytes = [0u8; 32];
    alloy::hex::decode_to_slice(padded, &mut bytes).ok()?;
    Some(U256::from_be_bytes(bytes))
}

/// Fast path for the common EIP-1559 tx: one flat pass over its JSON instead of alloy's
/// tagged-enum deserializer, which buffers every field through serde's `Content` (the largest
/// part of a block's node-side work). `None` means "not a well-formed EIP-1559 tx here": the
/// caller then uses alloy's deserializer, whose verdict (and error message) stands. The
/// engine's `hash` is not read: the tx hash is computed from the fields when first asked for,
/// and building a block never asks.
fn decode_eip1559(json: &str) -> Option<TxEnvelope> {
    // Cheap pre-filter so other tx types do not pay for a failed pass; `ty` is the real check.
    if !json.contains(r#""type":"0x2""#) {
        return None;
    }
    let j: Eip1559Json<'_> = serde_json::from_str(json).ok()?;
    if quantity(j.ty)? != U256::from(2) {
        return None;
    }
    // alloy reads `v` even when `yParity` decides, and refuses the tx if `v` is not a 64-bit
    // quantity: so must this path, or it would accept what alloy refuses.
    if let Some(v) = j.v {
        u64::try_from(quantity(v)?).ok()?;
    }
    let parity = match u8::try_from(quantity(j.y_parity.or(j.v)?)?).ok()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let tx = TxEip1559 {
        chain_id: u64::try_from(quantity(j.chain_id)?).ok()?,
        nonce: u64::try_from(quantity(j.nonce)?).ok()?,
        gas_limit: u64::try_from(quantity(j.gas)?).ok()?,
        max_fee_per_gas: u128::try_from(quantity(j.max_fee_per_gas)?).ok()?,
        max_priority_fee_per_gas: u128::try_from(quantity(j.max_priority_fee_per_gas)?).ok()?,
        to: j.to.map_or(TxKind::Create, TxKind::Call),
        value: quantity(j.value)?,
        access_list: j.access_list,
        input: j.input,
    };
    let signature = Signature::new(quantity(j.r)?, quantity(j.s)?, parity);
    Some(TxEnvelope::Eip1559(Signed::new_unhashed(tx, signature)))
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
        // Milliseconds of CPU for a full pool: off the async workers.
        let parsed = tokio::task::spawn_blocking(move || parse_pool_content(&body))
            .await
            .map_err(|e| EngineError::Malformed {
                endpoint: self.endpoint(),
                method: POOL_METHOD,
                reason: format!("the parser task died: {e}"),
            })?;
        parsed.map_err(|e| match e {
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
    use alloy::{
        consensus::{SignableTransaction, TxEip2930, TxLegacy},
        network::TxSignerSync,
        primitives::B256,
        signers::local::PrivateKeySigner,
    };

    fn pool_of(txs: &[TxEnvelope]) -> Vec<u8> {
        serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1, "result": [{"TxList": txs}]}))
            .unwrap()
    }

    /// Every tx type, each signed for real: the fast EIP-1559 path and alloy's deserializer
    /// agree, on one thread and across cores.
    fn mixed_txs(count: u64) -> Vec<TxEnvelope> {
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
        (0..count)
            .map(|n| {
                let to = TxKind::Call(Address::with_last_byte(n as u8));
                match n % 3 {
                    0 => {
                        let mut tx = TxLegacy {
                            chain_id: Some(167_001),
                            nonce: n,
                            gas_price: 1_000_000_000,
                            gas_limit: 21_000,
                            to,
                            value: U256::from(n),
                            ..Default::default()
                        };
                        let sig = signer.sign_transaction_sync(&mut tx).unwrap();
                        TxEnvelope::Legacy(tx.into_signed(sig))
                    }
                    1 => {
                        let mut tx = TxEip2930 {
                            chain_id: 167_001,
                            nonce: n,
                            gas_price: 1_000_000_000,
                            gas_limit: 21_000,
                            to,
                            input: vec![1, 2, 3].into(),
                            ..Default::default()
                        };
                        let sig = signer.sign_transaction_sync(&mut tx).unwrap();
                        TxEnvelope::Eip2930(tx.into_signed(sig))
                    }
                    _ => {
                        // Every other one creates a contract and carries an access list.
                        let create = n % 2 == 1;
                        let mut tx = TxEip1559 {
                            chain_id: 167_001,
                            nonce: n,
                            max_fee_per_gas: 2_000_000_000,
                            max_priority_fee_per_gas: 1_000_000,
                            gas_limit: 50_000,
                            to: if create { TxKind::Create } else { to },
                            input: vec![n as u8; n as usize % 40].into(),
                            access_list: AccessList(if create {
                                vec![alloy::eips::eip2930::AccessListItem {
                                    address: Address::with_last_byte(9),
                                    storage_keys: vec![B256::with_last_byte(n as u8)],
                                }]
                            } else {
                                vec![]
                            }),
                            ..Default::default()
                        };
                        let sig = signer.sign_transaction_sync(&mut tx).unwrap();
                        TxEnvelope::Eip1559(tx.into_signed(sig))
                    }
                }
            })
            .collect()
    }

    #[test]
    fn every_tx_type_round_trips_through_the_pool_parser() {
        for count in [5, PARALLEL_DECODE_MIN as u64 + 30] {
            let txs = mixed_txs(count);
            assert_eq!(
                parse_pool_content(&pool_of(&txs)).unwrap(),
                txs,
                "{count} txs"
            );
        }
    }

    #[test]
    fn quantities_parse_like_ruint() {
        for text in [
            "0x0",
            "0x1",
            "0xabc",
            "0x5208",
            &format!("0x{}", "f".repeat(64)),
        ] {
            assert_eq!(
                quantity(text),
                Some(text.parse::<U256>().unwrap()),
                "{text}"
            );
        }
        for bad in ["", "0x", "12", "0xg1", &format!("0x1{}", "0".repeat(64))] {
            assert_eq!(quantity(bad), None, "{bad}");
        }
    }

    #[test]
    fn tx_hashes_come_from_the_fields_not_from_the_engine() {
        let txs = mixed_txs(3);
        let mut body: serde_json::Value = serde_json::from_slice(&pool_of(&txs)).unwrap();
        body["result"][0]["TxList"][2]["hash"] = json!(B256::repeat_byte(1));
        let parsed = parse_pool_content(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert!(matches!(parsed[2], TxEnvelope::Eip1559(_)));
        assert_eq!(parsed[2].tx_hash(), txs[2].tx_hash());
    }

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
