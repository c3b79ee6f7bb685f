//! JSON-RPC endpoints: connecting with a deadline, and showing URLs without leaking API keys.

use std::time::Duration;

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use url::Url;

/// A failed JSON-RPC interaction.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RpcError {
    /// No answer within the per-call timeout.
    #[error("{endpoint}: no answer within {timeout_ms} ms")]
    Timeout {
        /// The endpoint, redacted.
        endpoint: String,
        /// The timeout.
        timeout_ms: u64,
    },
    /// The transport or the node returned an error.
    #[error("{endpoint}: {message}")]
    Failed {
        /// The endpoint, redacted.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
}

/// Shows scheme, host and port only: paths, queries and credentials often carry API keys.
pub fn redact_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let hidden = url.path() != "/" && !url.path().is_empty() || url.query().is_some();
    format!(
        "{}://{host}{port}{}",
        url.scheme(),
        if hidden { "/…" } else { "" }
    )
}

/// An error and its causes, `outer: inner: root`: transport errors hide the useful part
/// ("connection refused") in their sources.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// One JSON-RPC endpoint and its per-call timeout.
#[derive(Debug, Clone)]
pub struct RpcEndpoint {
    url: Url,
    timeout: Duration,
}

impl RpcEndpoint {
    /// An endpoint whose calls time out after `timeout`.
    pub fn new(url: Url, timeout: Duration) -> Self {
        Self { url, timeout }
    }

    /// The URL, redacted.
    pub fn display(&self) -> String {
        redact_url(&self.url)
    }

    /// Whether the endpoint speaks websocket (subscriptions are possible).
    pub fn is_ws(&self) -> bool {
        matches!(self.url.scheme(), "ws" | "wss")
    }

    /// Runs `call` with this endpoint's timeout, mapping errors to [`RpcError`].
    pub async fn call<T, E: std::error::Error>(
        &self,
        call: impl IntoFuture<Output = Result<T, E>>,
    ) -> Result<T, RpcError> {
        match tokio::time::timeout(self.timeout, call.into_future()).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(RpcError::Failed {
                endpoint: self.display(),
                message: error_chain(&e),
            }),
            Err(_) => Err(RpcError::Timeout {
                endpoint: self.display(),
                timeout_ms: self.timeout.as_millis() as u64,
            }),
        }
    }

    /// Connects (http: no I/O; ws: handshake) and returns a provider.
    pub async fn connect(&self) -> Result<DynProvider, RpcError> {
        let url = self.url.to_string();
        self.call(async { ProviderBuilder::new().connect(&url).await })
            .await
            .map(|p| p.erased())
    }

    /// Latest block number.
    pub async fn block_number(&self, provider: &DynProvider) -> Result<u64, RpcError> {
        self.call(provider.get_block_number()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_host_and_port_only() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(redact_url(&u("http://127.0.0.1:1")), "http://127.0.0.1:1");
        assert_eq!(
            redact_url(&u("https://user:pw@rpc.example/v3/KEY?x=1")),
            "https://rpc.example/…"
        );
        assert_eq!(
            redact_url(&u("wss://node.example:8546/")),
            "wss://node.example:8546"
        );
    }
}
