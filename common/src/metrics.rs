//! The process-wide Prometheus registry. Every metric is exported with the `preconfer_` prefix.

use std::sync::OnceLock;

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry, core::Collector};

/// The metric name prefix (without the trailing underscore).
pub const PREFIX: &str = "preconfer";

/// Metrics every fork shares.
pub struct CommonMetrics {
    /// 1 while a supervised actor is running, 0 otherwise.
    pub actor_up: IntGaugeVec,
    /// Restarts performed by the supervisor, per actor.
    pub actor_restarts: IntCounterVec,
    /// Latest block number seen on each chain (`l1`, `l2`).
    pub chain_head: IntGaugeVec,
    /// Failed JSON-RPC polls per endpoint (`l1`, `l2`).
    pub rpc_failures: IntCounterVec,
    /// 1 while the endpoint's last poll was answered, 0 from its first failed one (`l1`, `l2`).
    pub endpoint_up: IntGaugeVec,
    /// 1 for the fork this process runs once it is active.
    pub fork_active: IntGaugeVec,
}

struct Global {
    registry: Registry,
    common: CommonMetrics,
}

/// Registers a collector on `registry`. Metric definitions are static, so a failure is a
/// programming error that must stop start-up.
#[allow(clippy::expect_used)]
pub fn register<C: Collector + Clone + 'static>(registry: &Registry, collector: C) -> C {
    registry
        .register(Box::new(collector.clone()))
        .expect("metric definitions are static and unique");
    collector
}

#[allow(clippy::expect_used)]
fn global() -> &'static Global {
    static GLOBAL: OnceLock<Global> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let registry =
            Registry::new_custom(Some(PREFIX.into()), None).expect("the prefix is not empty");
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric definition"),
            )
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition"),
            )
        };
        let common = CommonMetrics {
            actor_up: gauge("actor_up", "1 while the supervised actor runs", &["actor"]),
            actor_restarts: counter(
                "actor_restarts_total",
                "Restarts of a supervised actor",
                &["actor"],
            ),
            chain_head: gauge("chain_head_block", "Latest block number seen", &["chain"]),
            rpc_failures: counter(
                "rpc_poll_failures_total",
                "Failed polls of a JSON-RPC endpoint",
                &["endpoint"],
            ),
            endpoint_up: gauge(
                "endpoint_up",
                "1 while the JSON-RPC endpoint's last poll was answered",
                &["endpoint"],
            ),
            fork_active: gauge("fork_active", "1 once the fork runs", &["fork"]),
        };
        Global { registry, common }
    })
}

/// The registry that `/metrics` exports; forks register their own metrics here.
pub fn registry() -> &'static Registry {
    &global().registry
}

/// The shared metrics.
pub fn common() -> &'static CommonMetrics {
    &global().common
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exported_metric_carries_the_prefix() {
        common().actor_up.with_label_values(&["test"]).set(1);
        common().rpc_failures.with_label_values(&["l1"]).inc();
        let families = registry().gather();
        assert!(!families.is_empty());
        for family in families {
            assert!(family.name().starts_with("preconfer_"), "{}", family.name());
        }
    }
}
