//! The beacon API the node's slot clock reads (`L1_BEACON_URL`): genesis time and slot length
//! consistent with the L1 anvil's block time. Blob reads are proxied to anvil, which serves them.

use std::sync::Arc;

use alloy::providers::{Provider, ProviderBuilder};
use axum::{
    Json, Router,
    body::Body,
    extract::{Path, RawQuery, State},
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

/// `GET /eth/v1/beacon/blobs/{block_id}`: a number is a slot, as on a real beacon node, and
/// is served from the L1 blocks whose timestamps fall in that slot (anvil reads a number as a
/// block number); anything else is passed on as it is. The query (`versioned_hashes`) is kept.
async fn blobs(
    State(beacon): State<Arc<Beacon>>,
    Path(block): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    let ids = match block.parse::<u64>() {
        Ok(slot) => match blocks_in_slot(&beacon, slot).await {
            Ok(numbers) => numbers.into_iter().map(|n| n.to_string()).collect(),
            Err(e) => return (StatusCode::BAD_GATEWAY, e).into_response(),
        },
        Err(_) => vec![block],
    };
    let mut data = Vec::new();
    for id in ids {
        let Ok(url) = beacon.l1.join(&format!("eth/v1/beacon/blobs/{id}{query}")) else {
            return (StatusCode::BAD_REQUEST, "bad block id").into_response();
        };
        let answer = match reqwest::get(url).await {
            Ok(answer) => answer,
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        };
        if !answer.status().is_success() {
            let status =
                StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = answer.bytes().await.unwrap_or_default();
            return (status, Body::from(body)).into_response();
        }
        match answer.json::<serde_json::Value>().await {
            Ok(mut body) => {
                if let Some(blobs) = body["data"].as_array_mut() {
                    data.append(blobs);
                }
            }
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        }
    }
    Json(json!({"execution_optimistic": false, "finalized": false, "data": data})).into_response()
}

/// The L1 block numbers whose timestamps are in `slot` (none: a missed slot).
async fn blocks_in_slot(beacon: &Beacon, slot: u64) -> Result<Vec<u64>, String> {
    let l1 = ProviderBuilder::new().connect_http(beacon.l1.clone());
    let start = beacon.genesis_time + slot * beacon.seconds_per_slot.max(1);
    let end = start + beacon.seconds_per_slot.max(1);
    let timestamp = |n: u64| {
        let l1 = l1.clone();
        async move {
            l1.get_block_by_number(n.into())
                .await
                .map_err(|e| e.to_string())?
                .map(|b| b.header.timestamp)
                .ok_or_else(|| format!("L1 block {n} is missing"))
        }
    };
    let head = l1.get_block_number().await.map_err(|e| e.to_string())?;
    // The first block at or after the slot's start (timestamps never decrease).
    let (mut low, mut high) = (0, head + 1);
    while low < high {
        let mid = (low + high) / 2;
        if timestamp(mid).await? < start {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    let mut numbers = Vec::new();
    let mut n = low;
    while n <= head && timestamp(n).await? < end {
        numbers.push(n);
        n += 1;
    }
    Ok(numbers)
}
