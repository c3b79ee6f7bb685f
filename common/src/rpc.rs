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
    /// No JSON-RPC answer came back: the connection was refused or broke, or HTTP failed. A
    /// request sent may still have reached the node.
    #[error("{endpoint}: {message}")]
    Unreachable {
        /// The endpoint, redacted.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// The node returned an error, or an answer that could not be read.
    #[error("{endpoint}: {message}")]
    Failed {
        /// The endpoint, redacted.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
}

impl RpcError {
    /// Whether no answer came back (a timeout, or the connection failed): a request sent may
    /// still have reached the node and acted.
    pub fn no_answer(&self) -> bool {
        matches!(
            self,
            RpcError::Timeout { .. } | RpcError::Unreachable { .. }
        )
    }
}

/// Whether `error` is alloy's transport failing (no JSON-RPC answer), as opposed to the node
/// answering with an error.
fn transport_failed(error: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        error.downcast_ref::<alloy::transports::TransportError>(),
        Some(alloy::transports::RpcError::Transport(_))
    )
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
    pub async fn call<T, E: std::error::Error + 'static>(
        &self,
        call: impl IntoFuture<Output = Result<T, E>>,
    ) -> Result<T, RpcError> {
        match tokio::time::timeout(self.timeout, call.into_future()).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if transport_failed(&e) => Err(RpcError::Unreachable {
                endpoint: self.display(),
                message: error_chain(&e),
            }),
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

    #[tokio::test]
    async fn a_transport_failure_is_unreachable_and_a_node_error_is_failed() {
        let endpoint = RpcEndpoint::new(
            Url::parse("http://127.0.0.1:1").unwrap(),
            Duration::from_secs(1),
        );
        let refused = alloy::transports::TransportErrorKind::custom_str("connection refused");
        let answer = endpoint.call(async { Err::<(), _>(refused) }).await;
        assert!(
            matches!(answer, Err(RpcError::Unreachable { .. })),
            "{answer:?}"
        );
        assert!(answer.unwrap_err().no_answer());
        let node_error: alloy::transports::TransportError =
            alloy::transports::RpcError::local_usage_str("nonce too low");
        let answer = endpoint.call(async { Err::<(), _>(node_error) }).await;
        assert!(matches!(answer, Err(RpcError::Failed { .. })), "{answer:?}");
        assert!(!answer.unwrap_err().no_answer());
    }

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
