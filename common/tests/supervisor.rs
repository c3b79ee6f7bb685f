//! Supervisor behaviour with real spawned actors. Every wait is on a condition (a status change, a
//! message), bounded by a generous timeout so a regression fails instead of hanging.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use common::supervisor::{
    ChildLink, ChildState, ChildStatus, Restart, SupervisorBuilder, SupervisorConfig,
    SupervisorError,
};
use spawned_concurrency::{
    message::Message,
    tasks::{Actor, Context, Handler},
};
use tokio::{
    sync::{mpsc, oneshot, watch},
    time::{Instant, timeout},
};

const PATIENCE: Duration = Duration::from_secs(10);

/// A test actor: answers pings with its instance number, crashes or fails on request, and
/// reports when it stops.
struct Worker {
    name: &'static str,
    instance: u64,
    link: ChildLink,
    stopped: mpsc::UnboundedSender<(&'static str, bool)>,
    finished_slow_work: bool,
}

impl Actor for Worker {
    async fn started(&mut self, _ctx: &Context<Self>) {
        self.link.attach();
    }

    async fn stopped(&mut self, _ctx: &Context<Self>) {
        let _ = self.stopped.send((self.name, self.finished_slow_work));
    }
}

struct Ping;
impl Message for Ping {
    type Result = u64;
}
impl Handler<Ping> for Worker {
    async fn handle(&mut self, _: Ping, _: &Context<Self>) -> u64 {
        self.instance
    }
}

struct Crash;
impl Message for Crash {
    type Result = ();
}
impl Handler<Crash> for Worker {
    async fn handle(&mut self, _: Crash, _: &Context<Self>) {
        panic!("boom from instance {}", self.instance);
    }
}

struct Fail(&'static str);
impl Message for Fail {
    type Result = ();
}
impl Handler<Fail> for Worker {
    async fn handle(&mut self, msg: Fail, ctx: &Context<Self>) {
        self.link.fail(ctx, msg.0);
    }
}

struct SlowWork {
    begun: oneshot::Sender<()>,
    length: Duration,
}
impl Message for SlowWork {
    type Result = ();
}
impl Handler<SlowWork> for Worker {
    async fn handle(&mut self, msg: SlowWork, _: &Context<Self>) {
        let _ = msg.begun.send(());
        tokio::time::sleep(msg.length).await;
        self.finished_slow_work = true;
    }
}

struct Harness {
    builder: SupervisorBuilder,
    stopped_rx: mpsc::UnboundedReceiver<(&'static str, bool)>,
    stopped_tx: mpsc::UnboundedSender<(&'static str, bool)>,
}

fn config(max_restarts: u32, backoff_min_ms: u64) -> SupervisorConfig {
    let mut config = SupervisorConfig::new(
        max_restarts,
        Duration::from_secs(60),
        Duration::from_secs(2),
    );
    config.backoff_min = Duration::from_millis(backoff_min_ms);
    config.backoff_max = Duration::from_secs(1);
    config
}

impl Harness {
    fn new(config: SupervisorConfig) -> Self {
        let (stopped_tx, stopped_rx) = mpsc::unbounded_channel();
        Self {
            builder: SupervisorBuilder::new(config),
            stopped_rx,
            stopped_tx,
        }
    }

    fn worker(&mut self, name: &'static str) -> common::supervisor::Handle<Worker> {
        let instances = Arc::new(AtomicU64::new(0));
        let stopped = self.stopped_tx.clone();
        self.builder.child(name, Restart::Permanent, move |link| {
            Ok::<_, String>(Worker {
                name,
                instance: instances.fetch_add(1, Ordering::SeqCst) + 1,
                link,
                stopped: stopped.clone(),
                finished_slow_work: false,
            })
        })
    }
}

async fn wait_for_child(
    status: &mut watch::Receiver<Vec<ChildStatus>>,
    name: &str,
    ok: impl Fn(&ChildStatus) -> bool,
) -> ChildStatus {
    let found = timeout(
        PATIENCE,
        status.wait_for(|all| all.iter().any(|c| c.name == name && ok(c))),
    )
    .await
    .expect("condition reached in time")
    .expect("supervisor alive");
    found.iter().find(|c| c.name == name).cloned().unwrap()
}

#[tokio::test]
async fn a_panicking_child_is_restarted_with_backoff_and_the_handle_reaches_the_new_instance() {
    let mut h = Harness::new(config(5, 100));
    let worker = h.worker("worker");
    let sup = h.builder.start();
    let mut status = sup.status();

    let first = worker.live().await.unwrap();
    assert_eq!(first.request(Ping).await.unwrap(), 1);

    let crashed_at = Instant::now();
    first.send(Crash).unwrap();
    // A caller whose work instance 1 lost waits for instance 2 (through the backoff) instead
    // of getting the dying instance back.
    let (number, next) = timeout(PATIENCE, worker.live_after(Some(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(number, 2);
    assert!(crashed_at.elapsed() >= Duration::from_millis(100));
    assert_eq!(next.request(Ping).await.unwrap(), 2);
    let after = wait_for_child(&mut status, "worker", |c| {
        c.restarts == 1 && c.state == ChildState::Running
    })
    .await;
    assert!(
        crashed_at.elapsed() >= Duration::from_millis(100),
        "restarted before its backoff"
    );
    assert_eq!(after.last_backoff_ms, Some(100));
    let error = after.last_error.unwrap();
    assert!(error.contains("boom from instance 1"), "{error}");
    assert!(
        error.contains("supervisor.rs"),
        "panic location missing: {error}"
    );

    // The handle now reaches instance 2; the old reference is dead.
    assert_eq!(worker.current().unwrap().request(Ping).await.unwrap(), 2);
    assert!(first.request(Ping).await.is_err());

    // A second failure inside the window doubles the backoff.
    worker.current().unwrap().send(Crash).unwrap();
    let after = wait_for_child(&mut status, "worker", |c| {
        c.restarts == 2 && c.state == ChildState::Running
    })
    .await;
    assert_eq!(after.last_backoff_ms, Some(200));
    assert_eq!(worker.current().unwrap().request(Ping).await.unwrap(), 3);

    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_child_that_declares_failure_is_restarted_with_its_reason() {
    let mut h = Harness::new(config(5, 10));
    let worker = h.worker("worker");
    let sup = h.builder.start();
    let mut status = sup.status();

    worker
        .live()
        .await
        .unwrap()
        .send(Fail("database unreachable"))
        .unwrap();
    let after = wait_for_child(&mut status, "worker", |c| {
        c.restarts == 1 && c.state == ChildState::Running
    })
    .await;
    assert_eq!(after.last_error.as_deref(), Some("database unreachable"));
    sup.shutdown().await.unwrap();
}

#[tokio::test]
async fn meltdown_stops_every_child_and_reports_the_failing_childs_error() {
    let mut h = Harness::new(config(2, 10));
    let _steady = h.worker("steady");
    let flaky = h.worker("flaky");
    let mut sup = h.builder.start();
    let mut status = sup.status();

    for restarts in 0..=2 {
        wait_for_child(&mut status, "flaky", |c| {
            c.restarts == restarts && c.state == ChildState::Running
        })
        .await;
        flaky.current().unwrap().send(Crash).unwrap();
    }

    let outcome = timeout(PATIENCE, sup.finished()).await.unwrap();
    match outcome {
        Err(SupervisorError::Meltdown {
            child,
            failures,
            last_error,
            ..
        }) => {
            assert_eq!(child, "flaky");
            assert_eq!(failures, 3);
            assert!(last_error.contains("boom from instance 3"), "{last_error}");
        }
        other => panic!("expected a meltdown, got {other:?}"),
    }
    let final_status = status.borrow().clone();
    let state = |name| final_status.iter().find(|c| c.name == name).unwrap().state;
    assert_eq!(state("flaky"), ChildState::Failed);
    assert_eq!(state("steady"), ChildState::Stopped);
    // The healthy child was stopped (it ran its `stopped` hook), not leaked.
    let mut stopped = Vec::new();
    while let Ok(Some((name, _))) = timeout(Duration::from_millis(500), h.stopped_rx.recv()).await {
        stopped.push(name);
    }
    assert!(stopped.contains(&"steady"), "{stopped:?}");
    assert!(flaky.current().is_err());
}

#[tokio::test]
async fn shutdown_stops_children_in_reverse_start_order_after_in_flight_work() {
    let mut h = Harness::new(config(5, 10));
    let first = h.worker("first");
    let _second = h.worker("second");
    let third = h.worker("third");
    let sup = h.builder.start();

    // Third is busy when the shutdown starts; it must finish that work before stopping.
    first.live().await.unwrap();
    let (begun, begun_rx) = oneshot::channel();
    third
        .live()
        .await
        .unwrap()
        .send(SlowWork {
            begun,
            length: Duration::from_millis(300),
        })
        .unwrap();
    begun_rx.await.unwrap();

    sup.shutdown().await.unwrap();
    let mut order = Vec::new();
    while order.len() < 3 {
        let (name, finished) = timeout(PATIENCE, h.stopped_rx.recv())
            .await
            .unwrap()
            .unwrap();
        if name == "third" {
            assert!(finished, "in-flight work was cut short");
        }
        order.push(name);
    }
    assert_eq!(order, vec!["third", "second", "first"]);
    assert!(first.current().is_err());
}

#[tokio::test]
async fn a_child_stuck_past_the_deadline_is_reported() {
    let mut config = config(5, 10);
    config.shutdown_deadline = Duration::from_millis(200);
    let mut h = Harness::new(config);
    let stuck = h.worker("stuck");
    let sup = h.builder.start();
    let (begun, begun_rx) = oneshot::channel();
    stuck
        .live()
        .await
        .unwrap()
        .send(SlowWork {
            begun,
            length: Duration::from_secs(30),
        })
        .unwrap();
    begun_rx.await.unwrap();

    let started = Instant::now();
    let outcome = sup.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        outcome,
        Err(SupervisorError::ShutdownTimeout {
            children: vec!["stuck"],
            deadline_ms: 200
        })
    );
}
