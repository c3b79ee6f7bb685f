//! Metrics of block production and proposal sealing, on the process-wide registry.

use std::sync::OnceLock;

use common::metrics::{register, registry};
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};

/// Block and proposal metrics.
pub struct PreconfMetrics {
    /// Blocks the driver accepted.
    pub blocks_preconfirmed: IntCounter,
    /// User txs per preconfirmed block.
    pub txs_per_block: Histogram,
    /// Block build time by stage: `node` (assembly) and `driver` (the preconfBlocks call).
    pub block_build_seconds: HistogramVec,
    /// Ticks that failed, by cause.
    pub block_failures: IntCounterVec,
    /// Sealed proposals by reason.
    pub proposals_sealed: IntCounterVec,
    /// Blob payload bytes of a sealed proposal.
    pub proposal_bytes: Histogram,
    /// Blocks of a sealed proposal.
    pub proposal_blocks: Histogram,
}

/// The metrics, registered on first use.
#[allow(clippy::expect_used)] // static definitions: a failure is a programming error
pub fn preconf() -> &'static PreconfMetrics {
    static METRICS: OnceLock<PreconfMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let r = registry();
        let hist = |name: &str, help: &str, buckets: Vec<f64>| {
            register(
                r,
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                    .expect("valid metric definition"),
            )
        };
        let seconds = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        PreconfMetrics {
            blocks_preconfirmed: register(
                r,
                IntCounter::new("blocks_preconfirmed_total", "L2 blocks the driver accepted")
                    .expect("valid metric definition"),
            ),
            txs_per_block: hist(
                "block_txs",
                "User txs per preconfirmed block",
                vec![0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0],
            ),
            block_build_seconds: register(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "block_build_seconds",
                        "Block build time by stage (node: assembly, driver: preconfBlocks call)",
                    )
                    .buckets(seconds),
                    &["stage"],
                )
                .expect("valid metric definition"),
            ),
            block_failures: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "block_failures_total",
                        "Ticks that failed to build, by cause",
                    ),
                    &["cause"],
                )
                .expect("valid metric definition"),
            ),
            proposals_sealed: register(
                r,
                IntCounterVec::new(
                    Opts::new("proposals_sealed_total", "Sealed proposals by reason"),
                    &["reason"],
                )
                .expect("valid metric definition"),
            ),
            proposal_bytes: hist(
                "proposal_payload_bytes",
                "Blob payload bytes of a sealed proposal",
                vec![
                    1e3, 4e3, 16e3, 64e3, 130_044.0, 260_088.0, 390_132.0, 520_176.0, 650_220.0,
                    780_264.0,
                ],
            ),
            proposal_blocks: hist(
                "proposal_blocks",
                "Blocks of a sealed proposal",
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 192.0],
            ),
        }
    })
}
