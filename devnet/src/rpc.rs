//! A thin JSON-RPC client for the stand-ins: forwards raw requests to an anvil and makes typed
//! calls where the stand-in itself needs an answer.

use serde_json::{Value, json};
use url::Url;

/// A JSON-RPC error as the stand-ins report it to their callers.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    /// JSON-RPC error code.
    pub code: i64,
    /// What failed.
    pub message: String,
}

impl RpcError {
    /// An error with the generic server code.
    pub fn server(message: impl Into<String>) -> Self {
        Self {
            code: -32000,
            message: message.into(),
        }
    }

    /// The JSON-RPC error object.
    pub fn to_json(&self) -> Value {
        json!({"code": self.code, "message": self.message})
    }
}

/// One upstream JSON-RPC endpoint.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: reqwest::Client,
    url: Url,
}

impl Upstream {
    /// An upstream at `url`.
    pub fn new(url: Url) -> Self {
        Self {
            client: reqwest::Client::new(),
            url,
        }
    }

    /// Its URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Forwards a single request object and returns the response object as is.
    pub async fn forward(&self, request: &Value) -> Result<Value, RpcError> {
        let response = self
            .client
            .post(self.url.clone())
            .json(request)
            .send()
            .await
            .map_err(|e| RpcError::server(format!("upstream {}: {e}", self.url)))?;
        response
            .json()
            .await
            .map_err(|e| RpcError::server(format!("upstream {} answered non-JSON: {e}", self.url)))
    }

    /// Calls `method` and returns its `result`, or its error.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let mut response = self
            .forward(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .await?;
        if let Some(error) = response.get("error") {
            return Err(RpcError {
                code: error["code"].as_i64().unwrap_or(-32000),
                message: error["message"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_string(),
            });
        }
        Ok(response["result"].take())
    }

    /// Calls `method` and deserialises its result.
    pub async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RpcError> {
        let value = self.call(method, params).await?;
        serde_json::from_value(value)
            .map_err(|e| RpcError::server(format!("{method}: unexpected answer: {e}")))
    }
}
