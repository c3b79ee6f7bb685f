//! The engine-API JWT (HS256, `iat` within 60 s) that taiko-geth's auth RPC and the driver's
//! REST API require: `Authorization: Bearer <token>`.

use std::path::Path;

use alloy_rpc_types_engine::JwtSecret;
use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
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

/// Middleware for every route behind the JWT (auth RPC, driver API): 401 with the reason, or on.
pub async fn require(State(secret): State<JwtSecret>, request: Request, next: Next) -> Response {
    match check(&secret, request.headers()) {
        Ok(()) => next.run(request).await,
        Err((status, body)) => (status, Json(body)).into_response(),
    }
}
