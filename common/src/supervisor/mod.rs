//! A one-for-one supervisor for spawned-concurrency actors (spawned 0.5 ships none).
//!
//! Children start in the order they were added. A permanent child that panics, fails
//! ([`ChildLink::fail`]) or stops on its own is restarted after an exponential backoff; more than
//! `max_restarts` failures within `restart_window` is a meltdown: the supervisor stops every other
//! child and reports the failing child's last error. Shutdown stops children in reverse start
//! order, each finishing the message it is handling, within one overall deadline.
//!
//! Callers reach a child through a [`Handle`], which always points at the live instance.

mod control;
mod handle;
mod panic_capture;

pub use handle::{Handle, NotRunning, Reserved, Subscriber};

use std::{
    collections::VecDeque,
    fmt::Display,
    sync::{Arc, OnceLock},
    time::Duration,
};

use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
    stream::FuturesUnordered,
};
use serde::Serialize;
use spawned_concurrency::tasks::{Actor, ActorStart, Context};
use tokio::{
    sync::{oneshot, watch},
    task::JoinHandle,
    time::Instant,
};

use control::Control;

/// Restart and shutdown policy.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Failures of one child tolerated within `restart_window`; one more is a meltdown.
    pub max_restarts: u32,
    /// The window in which failures are counted.
    pub restart_window: Duration,
    /// Delay before the first restart; doubles with each failure in the window.
    pub backoff_min: Duration,
    /// Upper bound of the restart delay.
    pub backoff_max: Duration,
    /// Time all children together get to stop.
    pub shutdown_deadline: Duration,
}

impl SupervisorConfig {
    /// A policy with the default backoff (200 ms doubling up to 10 s).
    pub fn new(max_restarts: u32, restart_window: Duration, shutdown_deadline: Duration) -> Self {
        Self {
            max_restarts,
            restart_window,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            shutdown_deadline,
        }
    }

    fn backoff(&self, failures_in_window: usize) -> Duration {
        let doublings = failures_in_window.saturating_sub(1).min(20) as u32;
        self.backoff_min
            .saturating_mul(1 << doublings)
            .min(self.backoff_max)
    }
}

/// Whether a child is brought back after it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always restarted; the node is not ready while it is down.
    Permanent,
    /// Runs once; its exit is recorded but not acted on.
    Temporary,
}

/// Lifecycle state of one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildState {
    /// Being started.
    Starting,
    /// Running.
    Running,
    /// Crashed; waiting for its backoff to elapse.
    Restarting,
    /// Being stopped by a shutdown.
    Stopping,
    /// Stopped (shutdown, or a temporary child that ended).
    Stopped,
    /// Gave up on it (meltdown) or it did not stop in time.
    Failed,
}

impl std::fmt::Display for ChildState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChildState::Starting => "starting",
            ChildState::Running => "running",
            ChildState::Restarting => "restarting",
            ChildState::Stopping => "stopping",
            ChildState::Stopped => "stopped",
            ChildState::Failed => "failed",
        })
    }
}

/// What `/status` and `/readyz` show about one child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildStatus {
    /// The child's name.
    pub name: &'static str,
    /// Its restart policy.
    pub restart: Restart,
    /// Its state.
    pub state: ChildState,
    /// Restarts performed so far.
    pub restarts: u32,
    /// Why it last failed.
    pub last_error: Option<String>,
    /// The delay applied before the latest restart, in milliseconds.
    pub last_backoff_ms: Option<u64>,
}

/// Why the supervisor stopped on its own, or could not stop cleanly.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SupervisorError {
    /// A child failed too often.
    #[error(
        "actor {child} failed {failures} times within {window_sec} s and was given up on; its last error: {last_error}"
    )]
    Meltdown {
        /// The child.
        child: &'static str,
        /// Failures counted in the window.
        failures: usize,
        /// The window, in seconds.
        window_sec: u64,
        /// The child's last error.
        last_error: String,
    },
    /// Some children were still running at the shutdown deadline.
    #[error("actors {children:?} did not stop within the shutdown deadline of {deadline_ms} ms")]
    ShutdownTimeout {
        /// The late children.
        children: Vec<&'static str>,
        /// The deadline.
        deadline_ms: u64,
    },
    /// The supervisor's own task ended abnormally (a bug).
    #[error("the supervisor task ended abnormally: {0}")]
    Aborted(String),
}

/// Given to a child's factory at each (re)start: how the child talks back to its supervisor.
#[derive(Clone, Default)]
pub struct ChildLink {
    inner: Arc<LinkInner>,
}

#[derive(Default)]
struct LinkInner {
    failure: OnceLock<String>,
    task: OnceLock<tokio::task::Id>,
}

impl ChildLink {
    /// Call from `Actor::started`, so that a later panic's message is attributed to this child.
    pub fn attach(&self) {
        if let Some(task) = tokio::task::try_id() {
            let _ = self.inner.task.set(task);
        }
    }

    /// Records why the child cannot go on and stops it; the supervisor restarts it.
    pub fn fail<A: Actor>(&self, ctx: &Context<A>, reason: impl Into<String>) {
        let _ = self.inner.failure.set(reason.into());
        ctx.stop();
    }

    fn failure(&self) -> Option<String> {
        if let Some(reason) = self.inner.failure.get() {
            return Some(reason.clone());
        }
        self.inner
            .task
            .get()
            .and_then(|task| panic_capture::take(*task))
    }
}

type StartFn = Box<dyn FnMut(ChildLink) -> Result<Running, String> + Send>;

struct Running {
    stop: Box<dyn Fn() + Send + Sync>,
    exited: Shared<BoxFuture<'static, ()>>,
    link: ChildLink,
}

struct Child {
    start: StartFn,
    running: Option<Running>,
    generation: u64,
    failures: VecDeque<Instant>,
    status: ChildStatus,
}

/// Collects child specs; [`SupervisorBuilder::start`] starts them.
pub struct SupervisorBuilder {
    config: SupervisorConfig,
    children: Vec<Child>,
}

impl SupervisorBuilder {
    /// A supervisor with no children yet.
    pub fn new(config: SupervisorConfig) -> Self {
        panic_capture::install();
        Self {
            config,
            children: Vec::new(),
        }
    }

    /// Adds a child. `factory` builds a fresh actor for every (re)start; an error from it counts
    /// as a failure of the child.
    pub fn child<A, F, E>(&mut self, name: &'static str, restart: Restart, factory: F) -> Handle<A>
    where
        A: Actor,
        F: FnMut(ChildLink) -> Result<A, E> + Send + 'static,
        E: Display,
    {
        self.add(Reserved::new(name), restart, factory)
    }

    /// Adds the child whose handle was reserved (see [`Reserved`]).
    pub fn add<A, F, E>(
        &mut self,
        reserved: Reserved<A>,
        restart: Restart,
        mut factory: F,
    ) -> Handle<A>
    where
        A: Actor,
        F: FnMut(ChildLink) -> Result<A, E> + Send + 'static,
        E: Display,
    {
        let (name, publish, handle) = (reserved.name, reserved.publish.clone(), reserved.handle());
        let mut instance = 0;
        let start: StartFn = Box::new(move |link: ChildLink| {
            let actor = factory(link.clone()).map_err(|e| e.to_string())?;
            let actor_ref = actor.start();
            instance += 1;
            publish.send_replace(Some((instance, actor_ref.clone())));
            let stopper = actor_ref.clone();
            let unpublish = publish.clone();
            let exited = async move {
                actor_ref.join().await;
                unpublish.send_replace(None);
            }
            .boxed()
            .shared();
            Ok(Running {
                stop: Box::new(move || stopper.context().stop()),
                exited,
                link,
            })
        });
        self.children.push(Child {
            start,
            running: None,
            generation: 0,
            failures: VecDeque::new(),
            status: ChildStatus {
                name,
                restart,
                state: ChildState::Starting,
                restarts: 0,
                last_error: None,
                last_backoff_ms: None,
            },
        });
        handle
    }

    /// Starts the children in order and supervises them on a task of its own.
    pub fn start(self) -> Supervisor {
        let (status_tx, status) =
            watch::channel(self.children.iter().map(|c| c.status.clone()).collect());
        let (shutdown, shutdown_rx) = oneshot::channel();
        let control = Control {
            config: self.config,
            children: self.children,
            status_tx,
            events: FuturesUnordered::new(),
        };
        Supervisor {
            status,
            shutdown: Some(shutdown),
            task: Some(tokio::spawn(control.run(shutdown_rx))),
            outcome: None,
        }
    }
}

/// A running supervisor.
pub struct Supervisor {
    status: watch::Receiver<Vec<ChildStatus>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), SupervisorError>>>,
    outcome: Option<Result<(), SupervisorError>>,
}

impl Supervisor {
    /// Per-child state, updated on every change.
    pub fn status(&self) -> watch::Receiver<Vec<ChildStatus>> {
        self.status.clone()
    }

    /// Resolves when the supervisor has stopped: after a meltdown, or after [`Self::shutdown`].
    /// Cancel-safe, so it can sit in a `select!` beside a shutdown signal.
    pub async fn finished(&mut self) -> Result<(), SupervisorError> {
        if let Some(task) = self.task.as_mut() {
            let outcome = task
                .await
                .unwrap_or_else(|e| Err(SupervisorError::Aborted(e.to_string())));
            self.task = None;
            self.outcome = Some(outcome);
        }
        self.outcome
            .clone()
            .unwrap_or_else(|| Err(SupervisorError::Aborted("no outcome recorded".into())))
    }

    /// Stops every child in reverse start order and waits for them (bounded by the deadline).
    pub async fn shutdown(mut self) -> Result<(), SupervisorError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.finished().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_failure_in_the_window_and_is_capped() {
        let mut config = SupervisorConfig::new(5, Duration::from_secs(60), Duration::from_secs(1));
        config.backoff_min = Duration::from_millis(100);
        config.backoff_max = Duration::from_millis(350);
        let delays: Vec<_> = (1..=4).map(|n| config.backoff(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 350, 350]);
    }
}
