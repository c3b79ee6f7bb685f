//! The supervisor's own task: starts the children, restarts a failed one after its backoff,
//! gives up on one that fails too often (meltdown), and stops them all in reverse order.

use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesUnordered};
use tokio::{
    sync::{oneshot, watch},
    time::Instant,
};

use super::{
    Child, ChildLink, ChildState, ChildStatus, Restart, SupervisorConfig, SupervisorError,
};
use crate::metrics;

pub(super) enum Event {
    Exited { child: usize, generation: u64 },
    RestartDue { child: usize },
}

pub(super) struct Control {
    pub(super) config: SupervisorConfig,
    pub(super) children: Vec<Child>,
    pub(super) status_tx: watch::Sender<Vec<ChildStatus>>,
    pub(super) events: FuturesUnordered<BoxFuture<'static, Event>>,
}

impl Control {
    pub(super) async fn run(
        mut self,
        mut shutdown: oneshot::Receiver<()>,
    ) -> Result<(), SupervisorError> {
        for child in 0..self.children.len() {
            if let Err(meltdown) = self.start_child(child) {
                return self.give_up(meltdown).await;
            }
        }
        loop {
            tokio::select! {
                // A dropped Supervisor also means shut down.
                _ = &mut shutdown => return self.stop_all().await,
                Some(event) = self.events.next() => {
                    let outcome = match event {
                        Event::Exited { child, generation } => self.on_exit(child, generation),
                        Event::RestartDue { child } => {
                            let c = &mut self.children[child];
                            c.status.restarts += 1;
                            metrics::common().actor_restarts.with_label_values(&[c.status.name]).inc();
                            self.start_child(child)
                        }
                    };
                    if let Err(meltdown) = outcome {
                        return self.give_up(meltdown).await;
                    }
                }
            }
        }
    }

    fn publish(&self) {
        self.status_tx
            .send_replace(self.children.iter().map(|c| c.status.clone()).collect());
    }

    fn start_child(&mut self, index: usize) -> Result<(), SupervisorError> {
        let child = &mut self.children[index];
        child.status.state = ChildState::Starting;
        match (child.start)(ChildLink::default()) {
            Ok(running) => {
                child.generation += 1;
                let generation = child.generation;
                let exited = running.exited.clone();
                self.events.push(
                    async move {
                        exited.await;
                        Event::Exited {
                            child: index,
                            generation,
                        }
                    }
                    .boxed(),
                );
                child.running = Some(running);
                child.status.state = ChildState::Running;
                metrics::common()
                    .actor_up
                    .with_label_values(&[child.status.name])
                    .set(1);
                tracing::info!(actor = child.status.name, "actor started");
                self.publish();
                Ok(())
            }
            Err(e) => self.on_failure(index, format!("could not start: {e}")),
        }
    }

    fn on_exit(&mut self, index: usize, generation: u64) -> Result<(), SupervisorError> {
        let child = &mut self.children[index];
        if child.generation != generation {
            return Ok(());
        }
        let Some(running) = child.running.take() else {
            return Ok(());
        };
        metrics::common()
            .actor_up
            .with_label_values(&[child.status.name])
            .set(0);
        let failure = running.link.failure();
        match child.status.restart {
            Restart::Temporary => {
                child.status.state = ChildState::Stopped;
                if failure.is_some() {
                    child.status.last_error = failure;
                }
                self.publish();
                Ok(())
            }
            Restart::Permanent => self.on_failure(
                index,
                failure.unwrap_or_else(|| "stopped on its own, but it must keep running".into()),
            ),
        }
    }

    fn on_failure(&mut self, index: usize, reason: String) -> Result<(), SupervisorError> {
        let now = Instant::now();
        let window = self.config.restart_window;
        let child = &mut self.children[index];
        child.failures.push_back(now);
        while child
            .failures
            .front()
            .is_some_and(|at| now.duration_since(*at) > window)
        {
            child.failures.pop_front();
        }
        tracing::error!(actor = child.status.name, error = %reason, "actor failed");
        child.status.last_error = Some(reason.clone());
        if child.failures.len() > self.config.max_restarts as usize {
            child.status.state = ChildState::Failed;
            let meltdown = SupervisorError::Meltdown {
                child: child.status.name,
                failures: child.failures.len(),
                window_sec: window.as_secs(),
                last_error: reason,
            };
            self.publish();
            return Err(meltdown);
        }
        let delay = self.config.backoff(child.failures.len());
        child.status.state = ChildState::Restarting;
        child.status.last_backoff_ms = Some(delay.as_millis() as u64);
        tracing::warn!(
            actor = child.status.name,
            delay_ms = delay.as_millis() as u64,
            "restarting actor after backoff"
        );
        self.events.push(
            async move {
                tokio::time::sleep(delay).await;
                Event::RestartDue { child: index }
            }
            .boxed(),
        );
        self.publish();
        Ok(())
    }

    async fn give_up(mut self, meltdown: SupervisorError) -> Result<(), SupervisorError> {
        if let Err(e) = self.stop_all().await {
            tracing::error!(error = %e, "shutdown after meltdown was not clean");
        }
        Err(meltdown)
    }

    async fn stop_all(&mut self) -> Result<(), SupervisorError> {
        let deadline = Instant::now() + self.config.shutdown_deadline;
        let mut late = Vec::new();
        for index in (0..self.children.len()).rev() {
            let Some(running) = self.children[index].running.take() else {
                let status = &mut self.children[index].status;
                if status.state != ChildState::Failed {
                    status.state = ChildState::Stopped;
                }
                continue;
            };
            self.children[index].status.state = ChildState::Stopping;
            self.publish();
            (running.stop)();
            let stopped = tokio::time::timeout_at(deadline, running.exited.clone()).await;
            let status = &mut self.children[index].status;
            metrics::common()
                .actor_up
                .with_label_values(&[status.name])
                .set(0);
            if stopped.is_ok() {
                status.state = ChildState::Stopped;
                tracing::info!(actor = status.name, "actor stopped");
            } else {
                status.state = ChildState::Failed;
                status.last_error = Some("did not stop within the shutdown deadline".into());
                late.push(status.name);
            }
            self.publish();
        }
        self.publish();
        if late.is_empty() {
            Ok(())
        } else {
            Err(SupervisorError::ShutdownTimeout {
                children: late,
                deadline_ms: self.config.shutdown_deadline.as_millis() as u64,
            })
        }
    }
}
