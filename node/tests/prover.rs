//! End to end, the Prover actor against the devnet's Raiko stand-in (Raiko's own dialect): a
//! terminal `TaskStatus` ends a proof at once, `zk_any_not_drawn` is retried as its own case,
//! a Raiko that is down shows in `/readyz` while blocks keep coming and proposals land again
//! when it is back, and the bytes sent per proof.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    fault_proxy::{Fault, FaultProxy},
    keep_sending, message, sender, wait_until,
};

/// One devnet at a time: they run many processes on 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The devnet's RAIKO_POLL_INTERVAL_MS.
const POLL: Duration = Duration::from_millis(250);

fn env() -> Vec<(&'static str, String)> {
    vec![
        ("PRECONF_ONLY", "false".into()),
        ("PRECONF_MIN_TXS", "1".into()),
        ("PROOF_MAX_ATTEMPTS", "1".into()),
    ]
}

/// Milliseconds between two log lines' timestamps.
fn between(a: &Value, b: &Value) -> i64 {
    let at = |l: &Value| chrono_ms(l["timestamp"].as_str().unwrap());
    at(b) - at(a)
}

/// Milliseconds of the day of an RFC 3339 UTC timestamp (`…THH:MM:SS.ffffffZ`).
fn chrono_ms(ts: &str) -> i64 {
    let time = ts.split('T').nth(1).unwrap().trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: i64 = parts.next().unwrap().parse().unwrap();
    let m: i64 = parts.next().unwrap().parse().unwrap();
    let s: f64 = parts.next().unwrap().parse().unwrap();
    (h * 3_600 + m * 60) * 1_000 + (s * 1_000.0) as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_terminal_task_status_ends_the_proof_at_once_and_not_drawn_is_retried() {
    let _serial = SERIAL.lock().await;
    let net = support::start(&env()).await;
    let sending = keep_sending(&net, sender(1), Duration::from_millis(500));
    wait_until("a first proposal", Duration::from_secs(60), || async {
        net.landed_total().await >= 1.0
    })
    .await;

    // No prover drawn, twice: the job is submitted again, the proposal still lands.
    net.raiko(
        "devnet/config",
        Some(json!({"fail": {"kind": "not_drawn", "count": 2}})),
    )
    .await;
    // Both answers reach the Prover (pipelined jobs may take one each) before a later
    // proposal is awaited: a proposal proved before the injection may land in between.
    wait_until("two not_drawn answers", Duration::from_secs(60), || async {
        net.metric("preconfer_prover_requests_total", "outcome=\"not_drawn\"")
            .await
            >= 2.0
    })
    .await;
    let landed = net.landed_total().await;
    wait_until(
        "a proposal after not_drawn",
        Duration::from_secs(60),
        || async { net.landed_total().await >= landed + 1.0 },
    )
    .await;
    let not_drawn = net
        .metric("preconfer_prover_requests_total", "outcome=\"not_drawn\"")
        .await;
    assert_eq!(
        not_drawn, 2.0,
        "exactly the injected answers were read as not drawn"
    );
    assert_eq!(
        net.metric("preconfer_proposals_failed_total", "")
            .await
            .max(0.0),
        0.0,
        "not_drawn is no failure"
    );

    // A terminal status (as Raiko serializes ProofFailure_Generic): the proof ends at once and,
    // with one attempt allowed, the proposal is abandoned.
    net.raiko(
        "devnet/config",
        Some(json!({"fail": {"kind": "status", "count": 1, "status": "proof_failure__generic"}})),
    )
    .await;
    let failed = net
        .wait_for_log(
            |l| message(l) == "Raiko will not prove the proposal as requested",
            Duration::from_secs(60),
        )
        .await;
    let abandoned = net
        .wait_for_log(
            |l| message(l) == "proposals abandoned; the L2 goes back to the inbox's head",
            Duration::from_secs(10),
        )
        .await;
    drop(sending);
    let took = between(&failed, &abandoned);
    let reason = abandoned["fields"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!(
        "RESULT prover terminal_status abandoned_after_ms={took} poll_interval_ms={} deadline_s=180 reason={reason:?} not_drawn_answers={not_drawn}",
        POLL.as_millis()
    );
    assert!(reason.contains("proof_failure__generic"), "{reason}");
    assert!(
        took <= POLL.as_millis() as i64,
        "abandoned {took} ms after Raiko's answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_prover_down_for_20_s_shows_in_readyz_while_blocks_go_on_and_proposals_land_after() {
    let _serial = SERIAL.lock().await;
    let (devnet, dir) = support::start_devnet().await;
    let proxy = FaultProxy::start(devnet.urls.raiko.clone(), "").await;
    let mut settings = env();
    settings.push(("PROOF_MAX_ATTEMPTS", "5".into()));
    settings.push((
        "RAIKO_URL",
        proxy.url.as_str().trim_end_matches('/').to_string(),
    ));
    let net = support::spawn_node(devnet, dir, &settings).await;
    let sending = keep_sending(&net, sender(1), Duration::from_millis(500));
    wait_until("a first proposal", Duration::from_secs(60), || async {
        net.landed_total().await >= 1.0
    })
    .await;
    let readyz = format!("{}/readyz", net.health_url());
    let ready = || {
        let url = readyz.clone();
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };

    proxy.set(Fault::Status(502));
    let down_at = Instant::now();
    let head = net.l2_head().await;
    let reason = loop {
        let (code, body) = ready().await;
        let named = body["reasons"].as_array().is_some_and(|r| {
            r.iter()
                .any(|r| r.as_str().unwrap_or("").starts_with("prover"))
        });
        if code == 503 && named {
            break body["reasons"].clone();
        }
        assert!(
            down_at.elapsed() < Duration::from_secs(15),
            "/readyz never named the prover: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let noticed = down_at.elapsed();
    while down_at.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let head_while_down = net.l2_head().await;
    let landed_before = net.landed_total().await;
    assert_eq!(net.metric("preconfer_prover_up", "").await, 0.0);
    proxy.set(Fault::Pass);
    wait_until("proposals land again", Duration::from_secs(60), || async {
        net.landed_total().await >= landed_before + 2.0
    })
    .await;
    wait_until("/readyz is 200 again", Duration::from_secs(15), || async {
        ready().await.0 == 200
    })
    .await;
    drop(sending);
    let status: Value = reqwest::get(format!("{}/status", net.health_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!(
        "RESULT prover down_20s noticed_after_ms={} blocks_while_down={} landed_after={} reasons={reason} prover_status={}",
        noticed.as_millis(),
        head_while_down - head,
        net.landed_total().await - landed_before,
        status["prover"]
    );
    assert!(
        head_while_down >= head + 10,
        "blocks kept coming: {head} → {head_while_down}"
    );
    assert!(net.node_alive(), "no restart was needed");
    assert!(
        status["actors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "prover" && a["restarts"] == 0),
        "the prover actor shows in /status: {status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bytes_sent_to_raiko_per_proof_are_one_submission_and_small_polls() {
    let _serial = SERIAL.lock().await;
    let net = support::start(&env()).await;
    // Proofs take 4 s: many polls per proof.
    net.raiko("devnet/config", Some(json!({"proof_delay_ms": 4000})))
        .await;
    let sending = keep_sending(&net, sender(1), Duration::from_millis(500));
    wait_until("three proposals", Duration::from_secs(90), || async {
        net.landed_total().await >= 3.0
    })
    .await;
    drop(sending);
    let stats = net.raiko("devnet/stats", None).await;
    let number = |k: &str| stats[k].as_u64().unwrap();
    let (requests, polls, derived) = (number("requests"), number("polls"), number("derived"));
    let (full_bytes, poll_bytes) = (number("full_bytes"), number("poll_bytes"));
    let fulls = requests - polls;
    // Before: every poll re-sent the whole request.
    let before = full_bytes / fulls.max(1) * requests;
    let after = full_bytes + poll_bytes;
    println!(
        "RESULT prover traffic proofs={derived} requests={requests} status_only_polls={polls} bytes_after={after} bytes_before={before} per_proof_after={} per_proof_before={} ratio={:.3}",
        after / derived.max(1),
        before / derived.max(1),
        after as f64 / before.max(1) as f64
    );
    assert!(
        polls >= derived * 5,
        "status-only polls while proving: {stats}"
    );
    assert!(
        requests - polls <= derived + 1,
        "one full submission per proof: {stats}"
    );
}
