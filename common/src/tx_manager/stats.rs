//! The tx manager's metrics and the current bid shown on them.

use std::sync::OnceLock;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts};

use super::fees::Fees;
use crate::metrics::{register, registry};

/// Tx manager metrics.
pub struct TxMetrics {
    /// Current bid per fee field, in wei.
    pub fee_wei: IntGaugeVec,
    /// Replacements published.
    pub replacements: IntCounterVec,
    /// Refused publications by class.
    pub publish_errors: IntCounterVec,
    /// The nonce of the tx in flight (or the next one).
    pub nonce: IntGauge,
    /// First broadcast → receipt.
    pub inclusion_seconds: Histogram,
}

/// The metrics, registered on first use.
#[allow(clippy::expect_used)] // static definitions: a failure is a programming error
pub fn metrics() -> &'static TxMetrics {
    static METRICS: OnceLock<TxMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let r = registry();
        TxMetrics {
            fee_wei: register(
                r,
                IntGaugeVec::new(
                    Opts::new("l1_tx_fee_wei", "Current bid of the L1 tx in flight"),
                    &["field"],
                )
                .expect("valid metric definition"),
            ),
            replacements: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "l1_tx_replacements_total",
                        "Fee-bumped replacements published",
                    ),
                    &["kind"],
                )
                .expect("valid metric definition"),
            ),
            publish_errors: register(
                r,
                IntCounterVec::new(
                    Opts::new("l1_tx_publish_errors_total", "Refused L1 tx publications"),
                    &["error"],
                )
                .expect("valid metric definition"),
            ),
            nonce: register(
                r,
                IntGauge::new("l1_tx_nonce", "Nonce of the proposer's L1 tx in flight")
                    .expect("valid metric definition"),
            ),
            inclusion_seconds: register(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "l1_tx_inclusion_seconds",
                        "First broadcast of an L1 tx to its receipt",
                    )
                    .buckets(vec![0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0, 36.0, 60.0, 120.0]),
                )
                .expect("valid metric definition"),
            ),
        }
    })
}

pub(super) fn show(fees: &Fees) {
    let m = metrics();
    let gauge = |field: &str, v: u128| {
        m.fee_wei
            .with_label_values(&[field])
            .set(i64::try_from(v).unwrap_or(i64::MAX));
    };
    gauge("max_fee_per_gas", fees.max_fee_per_gas);
    gauge("max_priority_fee_per_gas", fees.max_priority_fee_per_gas);
    gauge("max_fee_per_blob_gas", fees.max_fee_per_blob_gas);
}
