//! The Prover actor under a supervisor, against a Raiko double on loopback: a Prover that dies
//! with a proof in flight (it panics, or stops) is restarted, and the proof asked of it is asked
//! of the new instance, submitted in full again and delivered. A unit-test module so that the
//! panic can be injected by a test-only message without one in the Prover's own list.

use std::{
    future::IntoFuture,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use alloy::primitives::Bytes;
use axum::{Json, Router, extract::State, routing::post};
use common::{
    health::ProverStatus,
    ids::ProposalId,
    supervisor::{ChildState, Restart, SupervisorBuilder, SupervisorConfig},
};
use spawned_concurrency::{
    message::Message,
    tasks::{Context, Handler},
};

use super::{Prover, ProverSetup, ask};
use crate::config::prover::{ProofType, ProverConfig};
use serde_json::{Value, json};
use tokio::{sync::watch, time::Instant};

const PATIENCE: Duration = Duration::from_secs(10);

/// Raiko's answers: `registered` until `ready`, then the proof; it remembers each request's
/// size (a full submission carries the blobs, a poll does not).
#[derive(Default)]
struct Double {
    ready: AtomicBool,
    sizes: Mutex<Vec<usize>>,
}

async fn realtime(State(double): State<Arc<Double>>, body: axum::body::Bytes) -> Json<Value> {
    double.sizes.lock().unwrap().push(body.len());
    if double.ready.load(Ordering::SeqCst) {
        Json(json!({"status": "ok", "proof_type": "sp1", "data": {"proof": {"proof": "0x0102"}}}))
    } else {
        Json(json!({"status": "ok", "proof_type": "sp1", "data": {"status": "registered"}}))
    }
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Test-only: makes the Prover panic inside a handler, as a bug would.
struct Crash;
impl Message for Crash {
    type Result = ();
}
impl Handler<Crash> for Prover {
    async fn handle(&mut self, _: Crash, _: &Context<Self>) {
        panic!("injected panic inside the Prover");
    }
}

/// How the Prover dies with the job in flight.
#[derive(Debug, Clone, Copy)]
enum Death {
    Panic,
    Stop,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prover_that_panics_mid_proof_is_restarted_and_the_proof_is_asked_again() {
    dies_mid_proof(Death::Panic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prover_that_stops_mid_proof_is_restarted_and_the_proof_is_asked_again() {
    dies_mid_proof(Death::Stop).await;
}

async fn dies_mid_proof(death: Death) {
    let double = Arc::new(Double::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v3/proof/batch/realtime", post(realtime))
        .with_state(double.clone());

    let setup = ProverSetup {
        http: reqwest::Client::new(),
        config: ProverConfig {
            url: url.parse().unwrap(),
            api_key: None,
            proof_type: ProofType::Sp1,
            poll_interval: Duration::from_millis(20),
            max_polls: 10_000,
            request_timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(30),
            attempts: 2,
            flag: 0b100,
            use_cache: true,
            max_requests_per_minute: 100_000,
        },
        status: Arc::new(watch::channel(ProverStatus::default()).0),
    };
    let mut builder = SupervisorBuilder::new(SupervisorConfig::new(
        5,
        Duration::from_secs(60),
        Duration::from_secs(5),
    ));
    let handle = builder.child("prover", Restart::Permanent, move |link| {
        Ok::<_, std::convert::Infallible>(Prover::new(setup.clone(), link))
    });
    let supervisor = builder.start();
    let status = supervisor.status();

    let full = Bytes::from(vec![b'x'; 10_000]);
    let poll = Bytes::from(vec![b'y'; 100]);
    let asking = ask(&handle, ProposalId(7), full, poll);
    let driving = async {
        // Submitted in full, then polled status-only.
        until("a full submission and polls", || {
            let sizes = double.sizes.lock().unwrap();
            sizes.first() == Some(&10_000) && sizes.iter().filter(|s| **s == 100).count() >= 2
        })
        .await;
        let before = double.sizes.lock().unwrap().len();

        // The prover dies with the job in flight: the supervisor restarts it.
        let current = handle.current().unwrap();
        match death {
            Death::Panic => current.send(Crash).unwrap(),
            Death::Stop => current.context().stop(),
        }
        until("the prover restarted", || {
            status
                .borrow()
                .iter()
                .any(|c| c.name == "prover" && c.restarts >= 1 && c.state == ChildState::Running)
        })
        .await;
        // The new instance got the job again: a full submission after the restart.
        until("a full submission to the new prover", || {
            double.sizes.lock().unwrap()[before..].contains(&10_000)
        })
        .await;
        double.ready.store(true, Ordering::SeqCst);
    };
    // The test's Raiko, the ask and the test's own steps run side by side on this task.
    let proof = tokio::select! {
        served = axum::serve(listener, app).into_future() => panic!("the test Raiko stopped: {served:?}"),
        both = tokio::time::timeout(4 * PATIENCE, async { tokio::join!(asking, driving) }) => {
            both.expect("the proof came back").0.unwrap()
        }
    };
    assert_eq!(proof.as_ref(), &[1, 2]);
    let child = status
        .borrow()
        .iter()
        .find(|c| c.name == "prover")
        .cloned()
        .unwrap();
    let restarts = child.restarts;
    if let Death::Panic = death {
        let why = child.last_error.unwrap_or_default();
        assert!(why.contains("injected panic inside the Prover"), "{why}");
    }
    println!(
        "RESULT prover restart death={death:?} restarts={restarts} requests={}",
        double.sizes.lock().unwrap().len()
    );
    supervisor.shutdown().await.unwrap();
}
