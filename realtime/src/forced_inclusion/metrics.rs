//! Forced-inclusion metrics, on the process-wide registry.

use std::sync::OnceLock;

use common::metrics::{register, registry};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

/// What the node sees of the queue and what it did with it.
pub struct ForcedInclusionMetrics {
    /// Inclusions waiting in the inbox's queue.
    pub queue_length: IntGauge,
    /// Seconds until the oldest waiting inclusion falls due (negative: overdue; 0: none).
    pub oldest_due_in_seconds: IntGauge,
    /// Inclusions the inbox's head moved past (consumed by any proposer).
    pub consumed: IntCounter,
    /// Inclusion blocks the node preconfirmed, by `content` (`txs` or `empty`).
    pub blocks: IntCounterVec,
    /// Inclusions whose blob could not be fetched (retried on the next tick).
    pub fetch_failures: IntCounter,
}

/// The metrics, registered on first use.
#[allow(clippy::expect_used)] // static definitions: a failure is a programming error
pub fn forced() -> &'static ForcedInclusionMetrics {
    static METRICS: OnceLock<ForcedInclusionMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let r = registry();
        let gauge = |name: &str, help: &str| {
            register(
                r,
                IntGauge::new(name, help).expect("valid metric definition"),
            )
        };
        let counter = |name: &str, help: &str| {
            register(
                r,
                IntCounter::new(name, help).expect("valid metric definition"),
            )
        };
        ForcedInclusionMetrics {
            queue_length: gauge(
                "forced_inclusion_queue_length",
                "Forced inclusions waiting in the inbox's queue",
            ),
            oldest_due_in_seconds: gauge(
                "forced_inclusion_oldest_due_in_seconds",
                "Seconds until the oldest waiting forced inclusion falls due (negative: overdue)",
            ),
            consumed: counter(
                "forced_inclusions_consumed_total",
                "Forced inclusions the inbox's head moved past",
            ),
            blocks: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "forced_inclusion_blocks_total",
                        "Forced-inclusion blocks preconfirmed, by content (txs or empty)",
                    ),
                    &["content"],
                )
                .expect("valid metric definition"),
            ),
            fetch_failures: counter(
                "forced_inclusion_fetch_failures_total",
                "Forced-inclusion blobs that could not be fetched from the beacon API",
            ),
        }
    })
}
