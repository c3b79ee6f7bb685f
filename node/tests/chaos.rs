//! The kill -9 gate (`scripts/chaos` runs it with `CHAOS_TRIALS=20`; `scripts/test` with the
//! default 5). On one devnet with steady L2 traffic and L1→L2→L1 user ops, each trial SIGKILLs
//! the node at one moment and starts it again: at a random time, or held by `INJECT_STALL` at
//! exactly a proposal tx journaled but not broadcast, a proof Raiko is working on, a block the
//! driver inserted but the node has not recorded, or a user op stored but not answered. After
//! each restart it checks the promises an operator relies on, prints one table row, and ends
//! with `N passed, M failed`. The seed is printed; `CHAOS_SEED` replays a run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use alloy::primitives::Address;
use serde_json::{Value, json};
use support::{
    Network,
    chaos_checks::{self, Ledger},
    message,
    traffic::{Rng, Traffic, ping_calldata, readyz, seed},
};

/// Where a trial kills the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillPoint {
    /// A random moment under load.
    Random,
    /// A proposal's L1 tx is signed and journaled, not broadcast.
    Broadcast,
    /// Raiko accepted the proof request and is proving.
    Proving,
    /// The driver inserted a block the node has not recorded.
    PreconfAnswered,
    /// A user op is stored, its id not answered yet.
    UserOpStored,
}

impl KillPoint {
    const ALL: [KillPoint; 5] = [
        KillPoint::Broadcast,
        KillPoint::Proving,
        KillPoint::PreconfAnswered,
        KillPoint::UserOpStored,
        KillPoint::Random,
    ];

    /// The `INJECT_STALL` point, if the moment is a fault point.
    fn stall(self) -> Option<&'static str> {
        match self {
            KillPoint::Random => None,
            KillPoint::Broadcast => Some("broadcast"),
            KillPoint::Proving => Some("proving"),
            KillPoint::PreconfAnswered => Some("preconf_answered"),
            KillPoint::UserOpStored => Some("user_op_stored"),
        }
    }
}

/// The longest a restarted node may take to answer `/readyz` with 200.
const READY_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkills_at_chosen_moments_break_no_promise() {
    let trials: usize = std::env::var("CHAOS_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let seed = seed("CHAOS_SEED");
    let mut rng = Rng(seed);
    println!("CHAOS trials={trials} seed={seed} (replay with CHAOS_SEED={seed})");
    let (devnet, dir) = support::start_devnet().await;
    let mut net = support::spawn_node(devnet, dir, &[("PRECONF_ONLY", "false".into())]).await;
    // Proofs take a second, so a proof is often in flight and `proving` is reached.
    let set = net
        .raiko("devnet/config", Some(json!({"proof_delay_ms": 1000})))
        .await;
    assert!(set.is_object(), "{set}");
    net.wait_for_log(
        |l| message(l) == "user-op simulations ready",
        Duration::from_secs(30),
    )
    .await;
    let traffic = Traffic::start(net.l2.clone(), 2, Duration::from_millis(700));
    let proposer = devnet::accounts::address(devnet::accounts::PRECONFER_KEY);
    let mut ledger = Ledger::begin(&net, proposer).await;
    // Every moment in turn, so any run of 5 or more covers each; the visit and the random
    // moment differ from trial to trial.
    let points: Vec<KillPoint> = (0..trials)
        .map(|i| KillPoint::ALL[i % KillPoint::ALL.len()])
        .collect();
    // The first process runs armed for the first trial.
    if arm(&mut net, points[0], &mut rng) {
        let from = net.stop_and_relaunch();
        wait_started(&net, from).await;
    }

    println!(
        "{:<6} {:<17} {:>9} {:>8} {:<7} {:<7} {:<7} {:<7} {:<7} {:<7}",
        "trial",
        "kill point",
        "killed_s",
        "ready_ms",
        "ready",
        "nonces",
        "single",
        "final",
        "ids",
        "head"
    );
    let mut failed = 0;
    for (trial, &point) in points.iter().enumerate() {
        let started = Instant::now();
        let op = tokio::spawn(send_op(
            net.surge_url(),
            net.devnet.contracts.ping_l1,
            trial,
        ));
        let killed_at = kill_point_reached(&net, point, &mut rng).await;
        let sent_before = traffic.sent();
        if let Ok(Some(id)) = tokio::time::timeout(Duration::from_millis(200), op)
            .await
            .map(|r| r.unwrap())
        {
            ledger.answered(id);
        }
        // The restarted process runs unarmed while the promises are checked (an armed one could
        // stall the blocks the checks wait for).
        net.env.remove("INJECT_STALL");
        let relaunched = Instant::now();
        let from = net.kill9_and_relaunch();
        let ready = ready_after(&net, relaunched).await;
        wait_started(&net, from).await;
        let row = chaos_checks::check(&net, &mut ledger, proposer, &sent_before, ready).await;
        // A moment that never came is a failed trial: its kill tested nothing.
        let ok = row.all_hold(READY_WITHIN) && killed_at.is_some();
        failed += usize::from(!ok);
        println!(
            "{:<6} {:<17} {:>9.1} {:>8} {}",
            trial + 1,
            format!("{point:?}"),
            killed_at.map_or(f64::NAN, |at| (at - started).as_secs_f64()),
            ready.map_or("never".into(), |r| r.as_millis().to_string()),
            row.cells(READY_WITHIN)
        );
        if !ok {
            let reached = match killed_at {
                Some(_) => String::new(),
                None => format!("{point:?} was not reached within 40 s; "),
            };
            println!("       trial {} failed: {reached}{}", trial + 1, row.why());
        }
        // Arming the next trial's moment takes an orderly restart.
        if let Some(&next) = points.get(trial + 1)
            && arm(&mut net, next, &mut rng)
        {
            let from = net.stop_and_relaunch();
            wait_started(&net, from).await;
        }
    }
    let sent = traffic.stop().await;
    println!(
        "CHAOS txs={} ops={} landed={} seed={seed}",
        sent.len(),
        ledger.ops(),
        ledger.landed()
    );
    println!("{} passed, {failed} failed", trials - failed);
    assert_eq!(
        failed, 0,
        "chaos trials failed (replay with CHAOS_SEED={seed})"
    );
}

/// Sets `INJECT_STALL` for the next process: the point's visit is chosen at random among the
/// first few, so the moment within the run differs from trial to trial. False when the point
/// needs no arming.
fn arm(net: &mut Network, point: KillPoint, rng: &mut Rng) -> bool {
    match point.stall() {
        Some(name) => {
            let visit = match point {
                // One op is sent per trial.
                KillPoint::UserOpStored => 1,
                _ => 1 + rng.next() % 3,
            };
            net.env
                .insert("INJECT_STALL".into(), format!("{name}@{visit}"));
            true
        }
        None => {
            net.env.remove("INJECT_STALL");
            false
        }
    }
}

/// Waits for the moment to kill; when it came (`None`: the point was not reached in time).
async fn kill_point_reached(net: &Network, point: KillPoint, rng: &mut Rng) -> Option<Instant> {
    if point == KillPoint::Random {
        tokio::time::sleep(rng.between(1_000, 6_000)).await;
        return Some(Instant::now());
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    let from = restart_marker(net);
    loop {
        let reached = net.logs.lock().unwrap()[from..]
            .iter()
            .any(|l| message(l).starts_with("INJECT_STALL"));
        if reached {
            return Some(Instant::now());
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where the running process' log lines start.
fn restart_marker(net: &Network) -> usize {
    let logs = net.logs.lock().unwrap();
    logs.iter()
        .rposition(|l| l.as_str() == Some("---- restart ----"))
        .map_or(0, |i| i + 1)
}

/// Sends one ping op; its id, or `None` when the node died before answering.
async fn send_op(url: String, ping: Address, trial: usize) -> Option<u64> {
    let calldata = ping_calldata(trial as u64 + 1);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "surge_sendUserOp",
        "params": {"submitter": ping, "calldata": calldata}});
    let answer: Value = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    answer["result"].as_u64()
}

/// Time from the relaunch to the first 200 of `/readyz` (`None`: not within 30 s).
async fn ready_after(net: &Network, relaunched: Instant) -> Option<Duration> {
    while relaunched.elapsed() < Duration::from_secs(30) {
        if let Ok(response) = reqwest::get(format!("{}/readyz", net.health_url())).await
            && response.status().is_success()
        {
            return Some(relaunched.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Waits until the process started at log line `from` runs its batch manager.
async fn wait_started(net: &Network, from: usize) {
    net.wait_for_log_after(
        from,
        |l| message(l) == "batch manager started",
        Duration::from_secs(60),
    )
    .await;
    let _ = readyz(net).await;
}
