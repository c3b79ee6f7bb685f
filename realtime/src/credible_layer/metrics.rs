//! Metrics of the Credible Layer client, on the process-wide registry.

use std::sync::OnceLock;

use common::metrics::{register, registry};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};

/// Credible Layer metrics.
pub struct CredibleLayerMetrics {
    /// Verdicts received, by status.
    pub verdicts: IntCounterVec,
    /// Time from a block's check request to its answer.
    pub check_seconds: Histogram,
    /// User txs left out for failing an assertion.
    pub dropped: IntCounter,
    /// User txs left out because an earlier tx of their sender was dropped or held.
    pub deferred: IntCounter,
    /// Blocks that went ahead without a full judgement, by cause.
    pub fail_open_blocks: IntCounterVec,
    /// Txs included without a verdict, by cause.
    pub fail_open_txs: IntCounterVec,
    /// 1 while the event stream to the sidecar is open.
    pub sidecar_up: IntGauge,
}

/// The metrics, registered on first use.
#[allow(clippy::expect_used)] // static definitions: a failure is a programming error
pub fn credible_layer() -> &'static CredibleLayerMetrics {
    static METRICS: OnceLock<CredibleLayerMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let r = registry();
        let counter_vec = |name: &str, help: &str, label: &str| {
            register(
                r,
                IntCounterVec::new(Opts::new(name, help), &[label])
                    .expect("valid metric definition"),
            )
        };
        let counter = |name: &str, help: &str| {
            register(
                r,
                IntCounter::new(name, help).expect("valid metric definition"),
            )
        };
        CredibleLayerMetrics {
            verdicts: counter_vec(
                "credible_layer_verdicts_total",
                "Verdicts the Credible Layer sidecar gave, by status",
                "status",
            ),
            check_seconds: register(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "credible_layer_check_seconds",
                        "Time a block waited for the Credible Layer sidecar's verdicts",
                    )
                    .buckets(vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ]),
                )
                .expect("valid metric definition"),
            ),
            dropped: counter(
                "credible_layer_dropped_txs_total",
                "User txs left out of a block for failing an assertion",
            ),
            deferred: counter(
                "credible_layer_deferred_txs_total",
                "User txs left out because an earlier tx of their sender was dropped or held",
            ),
            fail_open_blocks: counter_vec(
                "credible_layer_fail_open_blocks_total",
                "Blocks built without the sidecar's full judgement, by cause",
                "cause",
            ),
            fail_open_txs: counter_vec(
                "credible_layer_fail_open_txs_total",
                "Txs included without a verdict, by cause",
                "cause",
            ),
            sidecar_up: register(
                r,
                IntGauge::new(
                    "credible_layer_sidecar_up",
                    "1 while the event stream to the Credible Layer sidecar is open",
                )
                .expect("valid metric definition"),
            ),
        }
    })
}
