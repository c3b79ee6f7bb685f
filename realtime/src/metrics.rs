//! Metrics of block production and proposal sealing, on the process-wide registry.

use std::sync::OnceLock;

use common::metrics::{register, registry};
use prometheus::{
    Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
};

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
    /// Time since the open proposal's first block was preconfirmed (0: none open).
    pub open_proposal_age_seconds: Gauge,
    /// Blocks in the open proposal.
    pub open_proposal_blocks: IntGauge,
    /// 1 while ticks build the blocks they mean to, 0 from the first one that could not.
    pub block_production_up: IntGauge,
    /// Blocks preconfirmed before a restart and taken back into the open proposal.
    pub blocks_recovered: IntCounter,
    /// Blocks preconfirmed before a restart that could not be proposed any more, by cause.
    pub blocks_reorged_on_start: IntCounterVec,
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
            open_proposal_age_seconds: register(
                r,
                Gauge::new(
                    "open_proposal_age_seconds",
                    "Time since the open proposal's first block was preconfirmed (0: none open)",
                )
                .expect("valid metric definition"),
            ),
            open_proposal_blocks: register(
                r,
                IntGauge::new("open_proposal_blocks", "Blocks in the open proposal")
                    .expect("valid metric definition"),
            ),
            block_production_up: register(
                r,
                IntGauge::new(
                    "block_production_up",
                    "1 while ticks build their blocks; 0 from the first tick an endpoint, the pool or the driver failed",
                )
                .expect("valid metric definition"),
            ),
            blocks_recovered: register(
                r,
                IntCounter::new(
                    "blocks_recovered_total",
                    "Blocks preconfirmed before a restart and taken back into the open proposal",
                )
                .expect("valid metric definition"),
            ),
            blocks_reorged_on_start: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "blocks_reorged_on_start_total",
                        "Blocks preconfirmed before a restart that could not be proposed any more, by cause",
                    ),
                    &["cause"],
                )
                .expect("valid metric definition"),
            ),
        }
    })
}

/// Proving and proposing metrics.
pub struct SubmitterMetrics {
    /// Proof request → proof (blob commitments included).
    pub proof_seconds: Histogram,
    /// Failed proof requests by cause.
    pub proof_failures: IntCounterVec,
    /// Proposals whose `ProposedAndProved` was seen as expected.
    pub proposals_landed: IntCounter,
    /// Proposals abandoned, by cause.
    pub proposals_failed: IntCounterVec,
    /// Proposals being proved, proved, or sent.
    pub in_flight: IntGauge,
    /// Sealed (queued for proving) → landed.
    pub sealed_to_landed_seconds: Histogram,
    /// Per L2 block: preconfirmed → its proposal's `ProposedAndProved` seen (settled).
    pub block_settlement_seconds: Histogram,
}

/// The metrics, registered on first use.
#[allow(clippy::expect_used)] // static definitions: a failure is a programming error
pub fn submitter() -> &'static SubmitterMetrics {
    static METRICS: OnceLock<SubmitterMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let r = registry();
        let slow = vec![
            0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 36.0, 60.0, 120.0,
        ];
        let hist = |name: &str, help: &str| {
            register(
                r,
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(slow.clone()))
                    .expect("valid metric definition"),
            )
        };
        let counter_vec = |name: &str, help: &str| {
            register(
                r,
                IntCounterVec::new(Opts::new(name, help), &["cause"])
                    .expect("valid metric definition"),
            )
        };
        SubmitterMetrics {
            proof_seconds: hist("proof_seconds", "Proof request to proof, per proposal"),
            proof_failures: counter_vec("proof_failures_total", "Failed proof requests"),
            proposals_landed: register(
                r,
                IntCounter::new(
                    "proposals_landed_total",
                    "Proposals whose ProposedAndProved was seen as expected",
                )
                .expect("valid metric definition"),
            ),
            proposals_failed: counter_vec(
                "proposals_failed_total",
                "Proposals abandoned (their L2 blocks reorged away)",
            ),
            in_flight: register(
                r,
                IntGauge::new(
                    "proposals_in_flight",
                    "Proposals being proved, proved, or sent",
                )
                .expect("valid metric definition"),
            ),
            sealed_to_landed_seconds: hist(
                "proposal_landing_seconds",
                "Sealed proposal to its ProposedAndProved on L1",
            ),
            block_settlement_seconds: hist(
                "block_settlement_seconds",
                "Per L2 block: preconfirmed to proved and on L1 (its proposal's ProposedAndProved)",
            ),
        }
    })
}

/// The Prover's metrics.
pub struct ProverMetrics {
    /// 1 while Raiko answers, 0 after transport failures in a row.
    pub up: IntGauge,
    /// Requests to Raiko by outcome (proof, pending, not_drawn, unknown_job, failed,
    /// rate_limited, transient).
    pub requests: IntCounterVec,
    /// Bytes of request bodies sent to Raiko.
    pub request_bytes: IntCounter,
}

/// The Prover's metrics, registered on first use.
#[allow(clippy::expect_used)] // static definitions: a failure is a programming error
pub fn prover() -> &'static ProverMetrics {
    static METRICS: OnceLock<ProverMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let r = registry();
        ProverMetrics {
            up: register(
                r,
                IntGauge::new(
                    "prover_up",
                    "1 while Raiko answers, 0 after failures in a row",
                )
                .expect("valid metric definition"),
            ),
            requests: register(
                r,
                IntCounterVec::new(
                    Opts::new("prover_requests_total", "Requests to Raiko by outcome"),
                    &["outcome"],
                )
                .expect("valid metric definition"),
            ),
            request_bytes: register(
                r,
                IntCounter::new(
                    "prover_request_bytes_total",
                    "Bytes of request bodies sent to Raiko",
                )
                .expect("valid metric definition"),
            ),
        }
    })
}

/// User-op metrics.
pub struct BridgeMetrics {
    /// Ops `surge_sendUserOp` accepted.
    pub user_ops_accepted: IntCounter,
    /// Ops that reached a final status, by status (`executed`, `rejected`).
    pub user_ops_final: IntCounterVec,
    /// L1 simulations that failed for a reason other than the op (RPC errors), retried.
    pub simulation_errors: IntCounter,
    /// L1 runs a block with user ops or L2→L1→L2 answers took (one when nothing fails).
    pub l1_runs_per_block: Histogram,
}

/// The user-op metrics, registered on first use.
#[allow(clippy::expect_used)] // static definitions: a failure is a programming error
pub fn bridge() -> &'static BridgeMetrics {
    static METRICS: OnceLock<BridgeMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let r = registry();
        BridgeMetrics {
            user_ops_accepted: register(
                r,
                IntCounter::new(
                    "user_ops_accepted_total",
                    "User ops surge_sendUserOp accepted",
                )
                .expect("valid metric definition"),
            ),
            user_ops_final: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "user_ops_final_total",
                        "User ops that reached a final status",
                    ),
                    &["status"],
                )
                .expect("valid metric definition"),
            ),
            simulation_errors: register(
                r,
                IntCounter::new(
                    "user_op_simulation_errors_total",
                    "L1 simulations of user ops that failed on the RPC and were retried",
                )
                .expect("valid metric definition"),
            ),
            l1_runs_per_block: register(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "cross_chain_l1_runs_per_block",
                        "L1 simulations a block with user ops or L2→L1→L2 answers took",
                    )
                    .buckets(vec![1.0, 2.0, 3.0, 4.0, 6.0, 8.0]),
                )
                .expect("valid metric definition"),
            ),
        }
    })
}
