//! Faults injected at named points of the node's own tasks, for the end-to-end tests: a panic
//! (`INJECT_PANIC`) shows a lost task does not stall the node; a stall (`INJECT_STALL`) holds the
//! task at that point forever so the chaos test can SIGKILL the process at exactly that moment
//! (between a journal write and its broadcast, say). Unset in production: then every point costs
//! one atomic load.

use std::sync::{
    OnceLock,
    atomic::{AtomicU64, Ordering},
};

/// A place in a spawned task where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// The task that builds a block and sends it to the driver (`preconfBlocks`).
    BlockBuild,
    /// The task that signs and sends a proposal's L1 transaction.
    ProposalSend,
    /// A proposal's L1 tx is signed and journaled, not broadcast yet.
    Broadcast,
    /// The driver inserted a block; the node has not recorded it yet.
    PreconfAnswered,
    /// Raiko accepted a proof request and is proving.
    Proving,
    /// A user op is stored; its id has not been answered yet.
    UserOpStored,
}

impl FaultPoint {
    const ALL: [FaultPoint; 6] = [
        FaultPoint::BlockBuild,
        FaultPoint::ProposalSend,
        FaultPoint::Broadcast,
        FaultPoint::PreconfAnswered,
        FaultPoint::Proving,
        FaultPoint::UserOpStored,
    ];

    /// Its name in `INJECT_PANIC` and `INJECT_STALL`.
    pub fn name(self) -> &'static str {
        match self {
            FaultPoint::BlockBuild => "block_build",
            FaultPoint::ProposalSend => "proposal_send",
            FaultPoint::Broadcast => "broadcast",
            FaultPoint::PreconfAnswered => "preconf_answered",
            FaultPoint::Proving => "proving",
            FaultPoint::UserOpStored => "user_op_stored",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which points fault, and on which visit (1 = the first time the point is reached).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injections(Vec<(FaultPoint, u64)>);

/// An injection variable could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{var}: {item:?} is not `<point>@<visit>` with a visit ≥ 1 and a point of block_build, proposal_send, broadcast, preconf_answered, proving, user_op_stored (e.g. block_build@3)"
)]
pub struct BadInjection {
    var: &'static str,
    item: String,
}

impl Injections {
    /// Reads `raw`, the value of `var` (comma-separated `<point>@<visit>`).
    pub fn parse(var: &'static str, raw: &str) -> Result<Self, BadInjection> {
        let mut armed = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = || BadInjection {
                var,
                item: item.to_string(),
            };
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

    fn armed(&self, point: FaultPoint, visit: u64) -> bool {
        self.0.contains(&(point, visit))
    }
}

fn panics(raw: &str) -> Result<Injections, BadInjection> {
    Injections::parse("INJECT_PANIC", raw)
}

fn stalls(raw: &str) -> Result<Injections, BadInjection> {
    Injections::parse("INJECT_STALL", raw)
}

/// The command-line switches (kept apart from the settings an operator tunes).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FaultArgs {
    /// Test only: panic inside the node's own task at `<point>@<visit>` (comma-separated;
    /// points: block_build, proposal_send). Unset in production.
    #[arg(long, env = "INJECT_PANIC", hide_env_values = true, value_parser = panics)]
    pub inject_panic: Option<Injections>,
    /// Test only: stall the node's own task forever at `<point>@<visit>` (points: broadcast,
    /// preconf_answered, proving, user_op_stored), for a SIGKILL at that moment. Unset in
    /// production.
    #[arg(long, env = "INJECT_STALL", hide_env_values = true, value_parser = stalls)]
    pub inject_stall: Option<Injections>,
}

struct Armed {
    panics: Injections,
    stalls: Injections,
}

static ARMED: OnceLock<Armed> = OnceLock::new();
static VISITS: [AtomicU64; FaultPoint::ALL.len()] =
    [const { AtomicU64::new(0) }; FaultPoint::ALL.len()];

/// Arms the injected faults for this process (the first call wins).
pub fn arm(args: &FaultArgs) {
    let panics = args.inject_panic.clone().unwrap_or_default();
    let stalls = args.inject_stall.clone().unwrap_or_default();
    if !panics.0.is_empty() || !stalls.0.is_empty() {
        tracing::warn!(
            ?panics,
            ?stalls,
            "INJECT_PANIC or INJECT_STALL is set: the node will fail on purpose"
        );
    }
    let _ = ARMED.set(Armed { panics, stalls });
}

/// This visit's number, when any fault is armed.
fn visit(point: FaultPoint) -> Option<(&'static Armed, u64)> {
    let armed = ARMED.get()?;
    if armed.panics.0.is_empty() && armed.stalls.0.is_empty() {
        return None;
    }
    let visit = VISITS[point.index()].fetch_add(1, Ordering::Relaxed) + 1;
    Some((armed, visit))
}

/// Marks a visit of `point`; panics when this visit is armed in `INJECT_PANIC`.
pub fn reach(point: FaultPoint) {
    if let Some((armed, visit)) = visit(point)
        && armed.panics.armed(point, visit)
    {
        panic!("INJECT_PANIC: {} panics on visit {visit}", point.name());
    }
}

/// Marks a visit of `point`; never returns when this visit is armed in `INJECT_STALL` (the
/// test kills the process there, after the warning below tells it the moment has come).
pub async fn pause(point: FaultPoint) {
    if let Some((armed, visit)) = visit(point)
        && armed.stalls.armed(point, visit)
    {
        tracing::warn!(
            point = point.name(),
            visit,
            "INJECT_STALL: the task stalls here until the process is killed"
        );
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_name_the_variable() {
        assert_eq!(
            panics("block_build@3, proposal_send@1"),
            Ok(Injections(vec![
                (FaultPoint::BlockBuild, 3),
                (FaultPoint::ProposalSend, 1)
            ]))
        );
        assert_eq!(
            stalls("broadcast@2,user_op_stored@1"),
            Ok(Injections(vec![
                (FaultPoint::Broadcast, 2),
                (FaultPoint::UserOpStored, 1)
            ]))
        );
        assert_eq!(panics(""), Ok(Injections::default()));
        for bad in ["block_build", "block_build@0", "mempool@2", "block_build@x"] {
            assert!(
                panics(bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("INJECT_PANIC")
            );
            assert!(
                stalls(bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("INJECT_STALL")
            );
        }
    }
}
