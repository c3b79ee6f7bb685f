//! Panics injected at named points of the node's own tasks, for the end-to-end tests that show a
//! lost task does not stall the node (it is restarted or retried, and `/status` shows it). Unset
//! in production: then every point costs one atomic load.

use std::{
    str::FromStr,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

/// A place in a spawned task where a panic can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// The task that builds a block and sends it to the driver (`preconfBlocks`).
    BlockBuild,
    /// The task that signs and sends a proposal's L1 transaction.
    ProposalSend,
}

impl FaultPoint {
    const ALL: [FaultPoint; 2] = [FaultPoint::BlockBuild, FaultPoint::ProposalSend];

    /// Its name in `INJECT_PANIC`.
    pub fn name(self) -> &'static str {
        match self {
            FaultPoint::BlockBuild => "block_build",
            FaultPoint::ProposalSend => "proposal_send",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which points panic, and on which visit (1 = the first time the point is reached).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InjectedPanics(Vec<(FaultPoint, u64)>);

/// `INJECT_PANIC` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "INJECT_PANIC: {0:?} is not `<point>@<visit>` with a point of block_build, proposal_send and a visit ≥ 1 (e.g. block_build@3)"
)]
pub struct BadInjection(String);

impl FromStr for InjectedPanics {
    type Err = BadInjection;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let mut armed = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = || BadInjection(item.to_string());
            let (name, visit) = item.split_once('@').ok_or_else(bad)?;
            let point = FaultPoint::ALL
                .into_iter()
                .find(|p| p.name() == name.trim())
                .ok_or_else(bad)?;
            let visit: u64 = visit.trim().parse().map_err(|_| bad())?;
            if visit == 0 {
                return Err(bad());
            }
            armed.push((point, visit));
        }
        Ok(Self(armed))
    }
}

/// The command-line switch (kept apart from the settings an operator tunes).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FaultArgs {
    /// Test only: panic inside the node's own task at `<point>@<visit>` (comma-separated;
    /// points: block_build, proposal_send). Unset in production.
    #[arg(long, env = "INJECT_PANIC", hide_env_values = true)]
    pub inject_panic: Option<InjectedPanics>,
}

static ARMED: OnceLock<InjectedPanics> = OnceLock::new();
static VISITS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Arms the injected panics for this process (the first call wins).
pub fn arm(panics: InjectedPanics) {
    if !panics.0.is_empty() {
        tracing::warn!(
            ?panics,
            "INJECT_PANIC is set: the node will panic on purpose"
        );
    }
    let _ = ARMED.set(panics);
}

/// Marks a visit of `point`; panics when this visit is armed.
pub fn reach(point: FaultPoint) {
    let Some(armed) = ARMED.get() else {
        return;
    };
    if armed.0.is_empty() {
        return;
    }
    let visit = VISITS[point.index()].fetch_add(1, Ordering::Relaxed) + 1;
    if armed.0.contains(&(point, visit)) {
        panic!("INJECT_PANIC: {} panics on visit {visit}", point.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_name_the_variable() {
        assert_eq!(
            "block_build@3, proposal_send@1".parse(),
            Ok(InjectedPanics(vec![
                (FaultPoint::BlockBuild, 3),
                (FaultPoint::ProposalSend, 1)
            ]))
        );
        assert_eq!("".parse(), Ok(InjectedPanics::default()));
        for bad in ["block_build", "block_build@0", "mempool@2", "block_build@x"] {
            let error = bad.parse::<InjectedPanics>().unwrap_err().to_string();
            assert!(error.starts_with("INJECT_PANIC"), "{error}");
        }
    }
}
