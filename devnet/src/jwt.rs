//! The engine-API JWT (HS256, `iat` within 60 s) that taiko-geth's auth RPC and the driver's
//! REST API require: `Authorization: Bearer <token>`.

use std::path::Path;

use alloy_rpc_types_engine::JwtSecret;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

/// Reads or creates the hex secret file at `path` (shared with the node through
/// `JWT_SECRET_FILE_PATH`).
pub fn load_or_create(path: &Path) -> anyhow::Result<JwtSecret> {
    if path.exists() {
        return JwtSecret::from_file(path)
            .map_err(|e| anyhow::anyhow!("reading JWT secret {}: {e}", path.display()));
    }
    let secret = JwtSecret::random();
    std::fs::write(path, alloy::hex::encode(secret.as_bytes()))?;
    Ok(secret)
}

/// Checks the bearer token; the error is the 401 body naming what is wrong.
pub fn check(secret: &JwtSecret, headers: &HeaderMap) -> Result<(), (StatusCode, Value)> {
    let unauthorized = |why: String| (StatusCode::UNAUTHORIZED, json!({"error": why}));
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization header (Bearer JWT)".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("Authorization header is not 'Bearer <JWT>'".into()))?;
    secret
        .validate(token)
        .map_err(|e| unauthorized(format!("invalid JWT: {e}")))
}
