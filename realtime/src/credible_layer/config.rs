//! Settings of the Credible Layer client (leaf module): unset `CREDIBLE_LAYER_URL` means no
//! client at all.

use std::time::Duration;

use common::config::{ConfigError, parse_bounded};
use url::Url;

/// A plaintext gRPC endpoint: the sidecar runs next to the node (TLS is not built in).
fn parse_grpc_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("expected an http:// URL ({e})"))?;
    match (url.scheme(), url.host()) {
        ("http", Some(_)) => Ok(url),
        ("http", None) => Err("expected an http:// URL with a host".into()),
        (other, _) => Err(format!(
            "expected an http:// URL (plaintext gRPC to a sidecar next to the node), got scheme '{other}'"
        )),
    }
}

/// Credible Layer settings as `clap` reads them.
#[derive(Debug, Clone, clap::Args)]
pub struct CredibleLayerArgs {
    /// gRPC endpoint of the Phylax Credible Layer sidecar (unset: no assertion checks)
    #[arg(
        long,
        env = "CREDIBLE_LAYER_URL",
        value_name = "CREDIBLE_LAYER_URL",
        value_parser = parse_grpc_url,
        hide_env_values = true
    )]
    pub credible_layer_url: Option<Url>,

    /// Milliseconds a block may wait for the sidecar's verdicts before it goes ahead with
    /// every tx not yet judged (fail-open)
    #[arg(long, env = "CREDIBLE_LAYER_BLOCK_BUDGET_MS", value_name = "CREDIBLE_LAYER_BLOCK_BUDGET_MS",
          default_value = "500", hide_env_values = true,
          value_parser = |r: &str| parse_bounded(r, 10, 60_000, "milliseconds"))]
    pub credible_layer_block_budget_ms: u64,

    /// Blocks a tx that failed an assertion is left out before it is tried again
    #[arg(long, env = "CREDIBLE_LAYER_RETRY_AFTER_BLOCKS", value_name = "CREDIBLE_LAYER_RETRY_AFTER_BLOCKS",
          default_value = "10", hide_env_values = true,
          value_parser = |r: &str| parse_bounded(r, 1, 100_000, "blocks"))]
    pub credible_layer_retry_after_blocks: u64,
}

/// The validated settings; present only when the client runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredibleLayerConfig {
    /// The sidecar's gRPC endpoint.
    pub url: Url,
    /// Per-block budget.
    pub block_budget: Duration,
    /// Blocks a dropped tx sits out.
    pub retry_after_blocks: u64,
}

impl CredibleLayerConfig {
    /// `None` when `CREDIBLE_LAYER_URL` is unset.
    pub fn resolve(args: &CredibleLayerArgs) -> Result<Option<Self>, ConfigError> {
        Ok(args.credible_layer_url.clone().map(|url| Self {
            url,
            block_budget: Duration::from_millis(args.credible_layer_block_budget_ms),
            retry_after_blocks: args.credible_layer_retry_after_blocks,
        }))
    }

    /// `VAR=value` pairs for the start-up log.
    pub fn describe(config: Option<&Self>) -> Vec<(&'static str, String)> {
        match config {
            None => vec![("CREDIBLE_LAYER_URL", "unset".into())],
            Some(c) => vec![
                ("CREDIBLE_LAYER_URL", common::rpc::redact_url(&c.url)),
                (
                    "CREDIBLE_LAYER_BLOCK_BUDGET_MS",
                    c.block_budget.as_millis().to_string(),
                ),
                (
                    "CREDIBLE_LAYER_RETRY_AFTER_BLOCKS",
                    c.retry_after_blocks.to_string(),
                ),
            ],
        }
    }
}
