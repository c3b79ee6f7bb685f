//! End to end, restarts keep their promises: a node SIGKILLed at random moments under steady L2
//! traffic and user ops takes no preconfirmed block back, loses no tx, rejects no op because of
//! the restart; a node restarted with proposals to resubmit answers its health checks at once;
//! a task of the node's own that panics (building a block, sending a proposal) gets its actor
//! restarted, and blocks and proposals go on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use alloy::primitives::B256;
use serde_json::{Value, json};
use support::{
    Network, message, sender,
    traffic::{Rng, Traffic, all_in_blocks, op_until_final, seed, send_ping},
};

/// One devnet at a time: they run many processes on 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_sigkills_under_traffic_take_back_no_preconfirmed_block_and_lose_nothing() {
    let _serial = SERIAL.lock().await;
    let seed = seed("RESTART_SEED");
    let mut rng = Rng(seed);
    println!("RESULT restart seed={seed} (replay with RESTART_SEED={seed})");
    // 4 s L1 slots and 1 s heartbeats: the open proposal holds a few preconfirmed blocks at
    // most moments, which is what a kill must not take back.
    let (devnet, dir) = support::start_devnet_with_slots(4).await;
    let mut net = support::spawn_node(devnet, dir, &[("PRECONF_ONLY", "false".into())]).await;
    net.wait_for_log(
        |l| message(l) == "user-op simulations ready",
        Duration::from_secs(30),
    )
    .await;
    let traffic = Traffic::start(net.l2.clone(), 3, Duration::from_millis(700));
    let mut promised: Vec<(u64, B256)> = Vec::new();
    let mut ops = Vec::new();
    let mut downtime = Vec::new();
    for trial in 0..10 {
        if trial % 3 == 0 {
            ops.push(send_ping(&net, trial + 1).await);
        }
        tokio::time::sleep(rng.between(1_500, 6_000)).await;
        promised.push(net.l2_head_block().await);
        let killed = Instant::now();
        net.kill9_and_restart().await;
        downtime.push(killed.elapsed());
    }
    let sent = traffic.stop().await;
    // Every tx the L2 accepted ends in a block.
    all_in_blocks(&net.l2, &sent, Duration::from_secs(90)).await;
    let mut finals = Vec::new();
    for &id in &ops {
        let seen = op_until_final(&net, id, Duration::from_secs(120)).await;
        finals.push(seen.last().unwrap()["status"].clone());
        assert!(
            seen.iter().all(|s| s["status"] != "Rejected"),
            "op {id} was rejected: {seen:?}"
        );
    }
    // No block preconfirmed before a kill was taken back.
    let mut taken_back = Vec::new();
    for (number, hash) in &promised {
        if net.l2_hash_at(*number).await != Some(*hash) {
            taken_back.push(*number);
        }
    }
    // Over all runs: blocks taken back into the open proposal, and any reorged on start.
    let (recovered, reorged) = {
        let logs = net.logs.lock().unwrap();
        let sum = |what: &str| -> u64 {
            logs.iter()
                .filter(|l| message(l) == what)
                .map(|l| l["fields"]["blocks"].as_u64().unwrap_or(1))
                .sum()
        };
        (
            sum("blocks preconfirmed before the restart taken back into the open proposal"),
            sum(
                "an L2 block preconfirmed before the restart cannot be proposed any more; reorging it and the blocks after it away",
            ),
        )
    };
    let causes: Vec<String> = net
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|l| {
            let m = message(l);
            m.starts_with("an L2 block preconfirmed before the restart cannot be proposed")
                || m.contains("reorg")
                || m == "dropping a stored proposal"
                || m == "submitter recovered"
                || m.starts_with("proposal sealed")
                || m == "proposals abandoned; the L2 goes back to the inbox's head"
                || l["level"] == "WARN"
                || l["level"] == "ERROR"
                || l.as_str() == Some("---- restart ----")
        })
        .map(|l| format!("{} {} {}", l["timestamp"], message(l), l["fields"]))
        .collect();
    let slowest = downtime.iter().max().unwrap();
    println!(
        "RESULT restart kills=10 promised_heads={} taken_back={taken_back:?} txs={} ops={} finals={finals:?} blocks_recovered={recovered} reorged_on_start={reorged} slowest_restart_ms={}",
        promised.len(),
        sent.len(),
        ops.len(),
        slowest.as_millis()
    );
    // A proposal abandoned on its own (a proof that fails its attempts, a refused L1 tx) takes
    // its blocks back by the abandonment rule (the L2 goes back to the inbox's head), restart or
    // not: only then may a promised block be gone.
    let abandoned = causes
        .iter()
        .filter(|c| c.contains("proposals abandoned"))
        .count();
    println!("RESULT restart abandonments={abandoned}");
    assert!(
        taken_back.is_empty() || abandoned > 0,
        "preconfirmed blocks taken back by a restart: {taken_back:?} (of {promised:?}); log: {causes:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_with_proposals_to_resubmit_is_ready_at_once_and_they_land() {
    let _serial = SERIAL.lock().await;
    let mut net = support::start(&[
        ("PRECONF_ONLY", "false".into()),
        ("PRECONF_MIN_TXS", "1".into()),
    ])
    .await;
    let raiko = |ms: u64| {
        let url = format!("{}/devnet/config", net.env["RAIKO_URL"]);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&json!({"proof_delay_ms": ms}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    raiko(120_000).await;
    let traffic = Traffic::start(net.l2.clone(), 1, Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(60);
    while net.metric("preconfer_proposals_in_flight", "").await < 2.0 {
        assert!(
            Instant::now() < deadline,
            "two proposals never waited for proofs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    traffic.stop().await;
    let landed_before = landed(&net).await;
    raiko(0).await;
    let started = Instant::now();
    let from = net.kill9_and_relaunch();
    // Poll /readyz from the start: every answer within 100 ms, 200 within 2 s.
    let client = reqwest::Client::new();
    let url = format!("{}/readyz", net.health_url());
    let mut slowest = Duration::ZERO;
    let mut answers = 0;
    let mut timings = Vec::new();
    let ready_after = loop {
        let asked = Instant::now();
        let response = client
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        let took = asked.elapsed();
        match response {
            Ok(r) => {
                answers += 1;
                slowest = slowest.max(took);
                timings.push((
                    started.elapsed().as_millis(),
                    took.as_millis(),
                    r.status().as_u16(),
                ));
                if r.status().is_success() {
                    break started.elapsed();
                }
            }
            // Not listening yet: the process is still starting.
            Err(e) if e.is_connect() => {}
            Err(e) => panic!("/readyz did not answer: {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not ready within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let recovered = net
        .wait_for_log_after(
            from,
            |l| message(l) == "submitter recovered",
            Duration::from_secs(30),
        )
        .await;
    let resubmitted = recovered["fields"]["resubmit"].as_u64().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while landed(&net).await < landed_before + 2 {
        assert!(
            Instant::now() < deadline,
            "the resubmitted proposals did not land"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "RESULT restart readyz_after_ms={} slowest_answer_ms={} answers={answers} (at_ms, took_ms, status)={timings:?} resubmitted={resubmitted} landed_before={landed_before} landed_now={}",
        ready_after.as_millis(),
        slowest.as_millis(),
        landed(&net).await
    );
    assert!(resubmitted >= 2, "two stored proposals were resubmitted");
    assert!(
        slowest < Duration::from_millis(100),
        "a /readyz answer took {slowest:?}"
    );
    assert!(
        ready_after <= Duration::from_secs(2),
        "ready after {ready_after:?}"
    );
}

/// How many proposals landed so far.
async fn landed(net: &Network) -> usize {
    net.landed_logs().await.len()
}

/// Waits until actor `name` was restarted once; when, and its `/status` entry then.
async fn restarted(net: &Network, name: &str, within: Duration) -> (Instant, Value) {
    let deadline = Instant::now() + within;
    loop {
        let actor = net.actor(name).await;
        if actor["restarts"].as_u64() >= Some(1) {
            return (Instant::now(), actor);
        }
        assert!(
            Instant::now() < deadline,
            "{name} was not restarted within {within:?}: {actor}"
        );
        assert!(net.node_alive(), "the node exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panic_in_the_block_building_or_proposal_sending_task_restarts_its_actor_and_work_goes_on()
 {
    let _serial = SERIAL.lock().await;
    // The 4th block-building task and the 2nd proposal-sending task panic.
    let net = support::start_as_devnet_up_with(&[(
        "INJECT_PANIC",
        "block_build@4,proposal_send@2".to_string(),
    )])
    .await;
    let heartbeat = Duration::from_millis(2000);
    let _sending = support::keep_sending(&net, sender(0), Duration::from_millis(300));

    // Block building: the batch manager is restarted and blocks come again within two
    // heartbeats of the restart.
    let (at, actor) = restarted(&net, "batch_manager", Duration::from_secs(60)).await;
    let head = net.l2_head().await;
    support::wait_until("a block after the restart", 2 * heartbeat, || async {
        net.l2_head().await > head
    })
    .await;
    let block_after = at.elapsed();
    assert!(
        actor["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("building a block") && e.contains("INJECT_PANIC")),
        "/status says why: {actor}"
    );

    // Proposal sending: the submitter is restarted, recovers from its journal and store, and
    // proposals land after it.
    let (at, submitter) = restarted(&net, "submitter", Duration::from_secs(60)).await;
    let landed_at_restart = landed(&net).await;
    support::wait_until("the submitter running again", 2 * heartbeat, || async {
        net.actor("submitter").await["state"] == "running"
    })
    .await;
    let running_after = at.elapsed();
    support::wait_until(
        "two proposals landed after the restart",
        Duration::from_secs(60),
        || async { landed(&net).await >= landed_at_restart + 2 },
    )
    .await;
    assert!(
        submitter["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("sending proposal") && e.contains("INJECT_PANIC")),
        "/status says why: {submitter}"
    );
    let head_now = net.l2_head().await;
    let landed_now = landed(&net).await;
    let settled = net
        .landed_logs()
        .await
        .last()
        .map(|(_, e)| e.checkpoint.blockNumber);
    println!(
        "RESULT lost_tasks block_after_restart_ms={} submitter_running_after_ms={} landed_at_restart={landed_at_restart} landed_now={landed_now} head={head_now} settled={settled:?} batch_manager={actor} submitter={submitter}",
        block_after.as_millis(),
        running_after.as_millis(),
    );
    assert_eq!(net.actor("batch_manager").await["restarts"], 1);
    assert!(net.node_alive(), "no meltdown");
}
