//! The beacon API the node's slot clock reads (`L1_BEACON_URL`): genesis time and slot length
//! consistent with the L1 anvil's block time. Blob reads are proxied to anvil, which serves them.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Body,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use url::Url;

/// Slot clock parameters.
#[derive(Debug, Clone)]
pub struct Beacon {
    /// Unix time of slot 0.
    pub genesis_time: u64,
    /// Seconds per slot (the L1 block time).
    pub seconds_per_slot: u64,
    /// The L1 anvil (serves `/eth/v1/beacon/blobs/{block}`).
    pub l1: Url,
}

/// The beacon routes.
pub fn router(beacon: Arc<Beacon>) -> Router {
    Router::new()
        .route("/eth/v1/beacon/genesis", get(genesis))
        .route("/eth/v1/config/spec", get(spec))
        .route("/eth/v1/beacon/blobs/{block}", get(blobs))
        .with_state(beacon)
}

async fn genesis(State(beacon): State<Arc<Beacon>>) -> impl IntoResponse {
    Json(json!({"data": {
        "genesis_time": beacon.genesis_time.to_string(),
        "genesis_validators_root": format!("0x{}", "00".repeat(32)),
        "genesis_fork_version": "0x00000000",
    }}))
}

async fn spec(State(beacon): State<Arc<Beacon>>) -> impl IntoResponse {
    Json(json!({"data": {
        "SECONDS_PER_SLOT": beacon.seconds_per_slot.to_string(),
        "SLOTS_PER_EPOCH": "32",
    }}))
}

async fn blobs(State(beacon): State<Arc<Beacon>>, Path(block): Path<String>) -> Response {
    let Ok(url) = beacon.l1.join(&format!("eth/v1/beacon/blobs/{block}")) else {
        return (StatusCode::BAD_REQUEST, "bad block id").into_response();
    };
    match reqwest::get(url).await {
        Ok(upstream) => {
            let status =
                StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            match upstream.bytes().await {
                Ok(body) => (
                    status,
                    [("content-type", "application/json")],
                    Body::from(body),
                )
                    .into_response(),
                Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
