//! End to end, the node under a misbehaving network: a loopback TCP proxy in front of one
//! endpoint (driver, engine, L2 RPC, Raiko, L1 RPC) refuses connections, resets them mid-answer,
//! stalls, answers 5xx, answers slowly, or goes away for 30 s. For each, the node keeps
//! preconfirming where the protocol allows, names the degraded part in `/readyz` and its metric
//! at the first tick (or proof request) that meets the fault (plus the endpoint's call timeout, for a stall), recovers by itself once the
//! fault ends, and loses nothing: no preconfirmed block is taken back and no proposal given up,
//! every tx the L2 accepted is in a block, the user op sent before the fault is executed, and the
//! proposals on L1 form one unbroken chain up to the blocks with the traffic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use alloy::providers::Provider;
use support::{
    HEARTBEAT, Network,
    landed::{assert_continuous, assert_inbox_head_is_canonical, landed},
    tcp_proxy::{TcpFault, TcpProxy},
    traffic::{Traffic, all_in_blocks, op_until_final, readyz, send_ping},
    wait_until,
};

/// One devnet at a time: they run many processes on 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The L2 RPC's call timeout the tests run the node with (a stall shows after it).
const L2_TIMEOUT_MS: u64 = 1_000;

/// Which of the node's endpoints the proxy stands in front of.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Driver,
    Engine,
    L2Rpc,
    Raiko,
    L1Rpc,
}

impl Endpoint {
    fn var(self) -> &'static str {
        match self {
            Endpoint::Driver => "L2_DRIVER_URL",
            Endpoint::Engine => "L2_AUTH_RPC_URL",
            Endpoint::L2Rpc => "L2_RPC_URL",
            Endpoint::Raiko => "RAIKO_URL",
            Endpoint::L1Rpc => "L1_RPC_URLS",
        }
    }

    fn url(self, devnet: &devnet::network::Devnet) -> &url::Url {
        let urls = &devnet.urls;
        match self {
            Endpoint::Driver => &urls.l2_driver,
            Endpoint::Engine => &urls.l2_auth,
            Endpoint::L2Rpc => &urls.l2,
            Endpoint::Raiko => &urls.raiko,
            Endpoint::L1Rpc => &urls.l1,
        }
    }
}

/// One fault, where it is injected, and what the node must show while it lasts.
struct Scenario {
    name: &'static str,
    endpoint: Endpoint,
    fault: TcpFault,
    /// How long the fault lasts.
    lasts: Duration,
    /// The `/readyz` reason that must appear (its start), and the metric sample that must read
    /// 0 meanwhile; `None`: the node must stay ready throughout (the fault is within its limits).
    degraded: Option<(&'static str, &'static str)>,
    /// How soon after the fault starts the degraded state must show.
    notice_within: Duration,
    /// Whether the protocol lets blocks be preconfirmed during the fault.
    preconfirms: bool,
}

/// What a scenario measured.
struct Outcome {
    /// The L2 head when the fault ended: a preconfirmation that must still hold at the end.
    promised: (u64, alloy::primitives::B256),
    noticed: Option<Duration>,
    blocks_during: u64,
    recovered: Duration,
}

/// Runs a scenario on a fresh devnet and node; asserts every promise in the file's doc.
async fn run(scenario: Scenario) {
    let _serial = SERIAL.lock().await;
    let (devnet, dir) = support::start_devnet().await;
    let proxy = TcpProxy::start(scenario.endpoint.url(&devnet)).await;
    let settings = [
        ("PRECONF_ONLY", "false".to_string()),
        (scenario.endpoint.var(), proxy.env_url()),
        (
            "RPC_L2_EXECUTION_LAYER_TIMEOUT_MS",
            L2_TIMEOUT_MS.to_string(),
        ),
        ("PROOF_MAX_ATTEMPTS", "10".to_string()),
    ];
    let net = support::spawn_node(devnet, dir, &settings).await;
    net.wait_for_log(
        |l| support::message(l) == "user-op simulations ready",
        Duration::from_secs(30),
    )
    .await;
    let traffic = Traffic::start(net.l2.clone(), 2, Duration::from_millis(500));
    let op = send_ping(&net, 7).await;
    wait_until(
        "ready and a first proposal landed",
        Duration::from_secs(60),
        || async { readyz(&net).await.0 == 200 && net.landed_total().await >= 1.0 },
    )
    .await;

    let outcome = inject(&net, &proxy, &scenario).await;

    let sent = traffic.stop().await;
    all_in_blocks(&net.l2, &sent, Duration::from_secs(60)).await;
    let statuses = op_until_final(&net, op, Duration::from_secs(90)).await;
    assert_eq!(
        statuses.last().unwrap()["status"],
        "Executed",
        "{}: the op sent before the fault: {statuses:?}",
        scenario.name
    );
    let last_traffic_block = last_block_of(&net, &sent).await;
    wait_until(
        "the blocks with the traffic are proved and on L1",
        Duration::from_secs(90),
        || async {
            landed(&net)
                .await
                .last()
                .is_some_and(|(_, number, _, _)| *number >= last_traffic_block)
        },
    )
    .await;
    let landed = assert_continuous(&net).await;
    assert_inbox_head_is_canonical(&net, &landed).await;
    let restarts: u64 = net.status().await["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["restarts"].as_u64().unwrap_or(0))
        .sum();
    assert!(net.node_alive(), "{}: the node exited", scenario.name);
    // No preconfirmation was taken back: the head at the fault's end is still canonical, and
    // no proposal was given up (that rolls the L2 back to the inbox's head).
    let (number, hash) = outcome.promised;
    assert_eq!(
        net.l2_hash_at(number).await,
        Some(hash),
        "{}: block {number} was taken back",
        scenario.name
    );
    let abandoned = net
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|l| support::message(l).starts_with("proposals abandoned"))
        .count();
    assert_eq!(abandoned, 0, "{}: proposals were abandoned", scenario.name);
    println!(
        "RESULT fault {} endpoint={:?} fault={:?} lasted_ms={} noticed_ms={} blocks_during={} recovered_ms={} txs={} landed={} actor_restarts={restarts}",
        scenario.name,
        scenario.endpoint,
        scenario.fault,
        scenario.lasts.as_millis(),
        outcome
            .noticed
            .map_or("none".into(), |d| d.as_millis().to_string()),
        outcome.blocks_during,
        outcome.recovered.as_millis(),
        sent.len(),
        landed.len(),
    );
    assert_eq!(
        restarts, 0,
        "{}: an actor had to be restarted",
        scenario.name
    );
}

/// Applies the fault for its time and lifts it; checks what `/readyz` and the metrics say.
async fn inject(net: &Network, proxy: &TcpProxy, scenario: &Scenario) -> Outcome {
    let head_before = net.l2_head().await;
    proxy.set(scenario.fault.clone());
    let started = Instant::now();
    let mut noticed = None;
    while started.elapsed() < scenario.lasts {
        let (code, body) = readyz(net).await;
        match scenario.degraded {
            Some((reason, metric)) if noticed.is_none() => {
                let named = body["reasons"].as_array().is_some_and(|r| {
                    r.iter()
                        .any(|r| r.as_str().unwrap_or("").starts_with(reason))
                });
                if code == 503 && named {
                    noticed = Some(started.elapsed());
                    let (name, filter) = metric.split_once('{').unwrap_or((metric, ""));
                    assert_eq!(
                        net.metric(name, filter.trim_end_matches('}')).await,
                        0.0,
                        "{}: {metric} while /readyz says {body}",
                        scenario.name
                    );
                } else {
                    assert!(
                        started.elapsed() <= scenario.notice_within,
                        "{}: /readyz did not name {reason:?} within {:?}: {code} {body}",
                        scenario.name,
                        scenario.notice_within
                    );
                }
            }
            Some(_) => {}
            None => assert_eq!(
                code, 200,
                "{}: a fault within the node's limits made it unready: {body}",
                scenario.name
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let blocks_during = net.l2_head().await.saturating_sub(head_before);
    if scenario.preconfirms {
        let expected = scenario.lasts.as_millis() as u64 / HEARTBEAT.as_millis() as u64 / 2;
        assert!(
            blocks_during >= expected,
            "{}: only {blocks_during} blocks in {:?} of fault (expected ≥ {expected})",
            scenario.name,
            scenario.lasts
        );
    }
    let promised = net.l2_head_block().await;
    proxy.set(TcpFault::Pass);
    let lifted = Instant::now();
    // The chain monitor retries a down endpoint at least every 5 s.
    wait_until("/readyz is 200 again", Duration::from_secs(15), || async {
        readyz(net).await.0 == 200
    })
    .await;
    Outcome {
        promised,
        noticed,
        blocks_during,
        recovered: lifted.elapsed(),
    }
}

/// The highest L2 block holding one of `hashes`.
async fn last_block_of(net: &Network, hashes: &[alloy::primitives::B256]) -> u64 {
    let mut last = 0;
    for hash in hashes {
        let receipt = net
            .l2
            .get_transaction_receipt(*hash)
            .await
            .unwrap()
            .unwrap();
        last = last.max(receipt.block_number.unwrap());
    }
    last
}

/// The first tick that meets the fault notices it: a tick already past its call when the fault
/// starts is answered, so that is the next tick at the latest (two heartbeats), plus slack for
/// the test's own polling.
fn next_tick() -> Duration {
    2 * HEARTBEAT + Duration::from_millis(500)
}

/// Raiko is only asked once a proposal is sealed (every L1 slot, 1 s here) and is counted down
/// after three failed requests in a row (250 ms apart here).
fn next_proof_requests() -> Duration {
    next_tick() + Duration::from_millis(3 * 250 + 1_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_driver_that_refuses_connections_shows_within_a_heartbeat_and_blocks_resume() {
    run(Scenario {
        name: "refused",
        endpoint: Endpoint::Driver,
        fault: TcpFault::Refuse,
        lasts: Duration::from_secs(6),
        degraded: Some(("blocks:", "preconfer_block_production_up")),
        notice_within: next_tick(),
        preconfirms: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_that_resets_mid_answer_shows_within_a_heartbeat_and_blocks_resume() {
    run(Scenario {
        name: "reset",
        endpoint: Endpoint::Engine,
        fault: TcpFault::ResetMidResponse,
        lasts: Duration::from_secs(6),
        degraded: Some(("blocks:", "preconfer_block_production_up")),
        notice_within: next_tick(),
        preconfirms: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_l2_rpc_that_stalls_shows_after_its_timeout_and_blocks_resume() {
    run(Scenario {
        name: "stall",
        endpoint: Endpoint::L2Rpc,
        fault: TcpFault::Stall,
        lasts: Duration::from_secs(6),
        degraded: Some(("L2 endpoint", "preconfer_endpoint_up{endpoint=\"l2\"}")),
        notice_within: next_tick() + Duration::from_millis(L2_TIMEOUT_MS),
        preconfirms: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_raiko_that_answers_5xx_shows_within_a_heartbeat_while_blocks_go_on() {
    run(Scenario {
        name: "5xx",
        endpoint: Endpoint::Raiko,
        fault: TcpFault::ServerError(500),
        lasts: Duration::from_secs(8),
        degraded: Some(("prover", "preconfer_prover_up")),
        notice_within: next_proof_requests(),
        preconfirms: true,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_l1_rpc_that_answers_slowly_keeps_the_node_ready_and_working() {
    run(Scenario {
        name: "slow",
        endpoint: Endpoint::L1Rpc,
        fault: TcpFault::Slow(Duration::from_millis(400)),
        lasts: Duration::from_secs(10),
        degraded: None,
        notice_within: Duration::ZERO,
        preconfirms: true,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_l1_rpc_gone_for_30_s_shows_within_a_heartbeat_while_blocks_go_on_and_all_lands_after() {
    run(Scenario {
        name: "l1_gone_30s",
        endpoint: Endpoint::L1Rpc,
        fault: TcpFault::Refuse,
        lasts: Duration::from_secs(30),
        degraded: Some(("L1 endpoint", "preconfer_endpoint_up{endpoint=\"l1\"}")),
        notice_within: next_tick(),
        preconfirms: true,
    })
    .await;
}
