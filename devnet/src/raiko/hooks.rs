//! The stand-in's test hooks: `POST /devnet/config` (delay, injected failures, rate limit,
//! keys) and `GET /devnet/stats` (the module doc of [`super`] lists them).

use std::{sync::Arc, time::Duration};

use alloy::primitives::B256;
use axum::{Json, body::Bytes as Body, extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{Failure, Raiko, Reply};

#[derive(Debug, Deserialize)]
struct Config {
    proof_delay_ms: Option<u64>,
    fail: Option<Failure>,
    /// Requests per minute (0: unlimited).
    rate_limit_per_min: Option<usize>,
    /// 32-byte hex: open privacy-mode payloads with it.
    privacy_key: Option<B256>,
    /// 32-byte hex secp256k1 secret: open forced inclusions sealed to it.
    fi_privkey: Option<B256>,
}

pub(super) async fn configure(State(raiko): State<Arc<Raiko>>, body: Body) -> Reply {
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
    if let Some(limit) = config.rate_limit_per_min {
        state.rate_limit = (limit > 0).then_some(limit);
    }
    if let Some(key) = config.privacy_key {
        state.privacy_key = Some(key.0);
    }
    if let Some(key) = config.fi_privkey {
        state.fi_privkey = Some(key.0);
    }
    (
        StatusCode::OK,
        Json(json!({"proof_delay_ms": state.proof_delay.as_millis() as u64, "fail": state.fail})),
    )
}

/// What the stand-in has proved and received so far.
pub(super) async fn stats(State(raiko): State<Arc<Raiko>>) -> Reply {
    let state = raiko.state.lock().await;
    (
        StatusCode::OK,
        Json(json!({
            "derived": state.derived,
            "forced_derived": state.forced_derived,
            "forced_empty": state.forced_empty,
            "refused": state.refused,
            "jobs": state.jobs.len(),
            "requests": state.requests,
            "bytes": state.bytes,
            "polls": state.polls,
            "full_bytes": state.full_bytes,
            "poll_bytes": state.poll_bytes,
            "cache_hits": state.cache_hits,
        })),
    )
}
