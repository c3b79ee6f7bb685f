//! Work an actor runs off its mailbox. Every piece reports back to the actor as a message,
//! whatever way it ends: its result, or its panic as a typed error. An actor that waits for a
//! task (a `busy` tick, a lent tx manager) therefore never waits forever for a task that is
//! gone; a lost task would stall it while the supervisor and `/readyz` still see it running.
//!
//! This is the only place in the library crates that spawns a tokio task (besides the
//! supervisor, which spawns the actors themselves).

use std::{any::Any, future::Future, panic::AssertUnwindSafe};

use futures::FutureExt;
use spawned_concurrency::{message::Message, tasks::Receiver};
use tokio::task::AbortHandle;

/// A spawned task panicked before it produced its result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("its task panicked: {0}")]
pub struct TaskPanicked(pub String);

/// What a spawned task delivers: its result, or its panic.
pub type Outcome<T> = Result<T, TaskPanicked>;

/// Runs `work` on its own task and sends `report(outcome)` to `to` when it ends. The report is
/// sent even when `work` panics. Aborting through the returned handle ends it without a report
/// (the actor that aborts it knows).
pub fn spawn_reporting<T, M, R>(
    to: R,
    work: impl Future<Output = T> + Send + 'static,
    report: impl FnOnce(Outcome<T>) -> M + Send + 'static,
) -> AbortHandle
where
    T: Send + 'static,
    M: Message,
    R: Receiver<M> + 'static,
{
    let task = tokio::spawn(async move {
        let outcome = AssertUnwindSafe(work)
            .catch_unwind()
            .await
            .map_err(|payload| TaskPanicked(describe(payload.as_ref())));
        // A send fails only when the actor is gone; its successor starts afresh.
        let _ = to.send(report(outcome));
    });
    task.abort_handle()
}

fn describe(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report
mod tests {
    use std::time::Duration;

    use spawned_concurrency::tasks::{Actor, ActorStart, Context, Handler};
    use tokio::sync::mpsc;

    use super::*;

    struct Collector(mpsc::UnboundedSender<Outcome<u32>>);
    impl Actor for Collector {}

    struct Done(Outcome<u32>);
    impl Message for Done {
        type Result = ();
    }
    impl Handler<Done> for Collector {
        async fn handle(&mut self, Done(outcome): Done, _: &Context<Self>) {
            let _ = self.0.send(outcome);
        }
    }

    async fn outcome_of(work: impl Future<Output = u32> + Send + 'static) -> Outcome<u32> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let actor = Collector(tx).start();
        spawn_reporting(actor.context(), work, Done);
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("the task reports within 5 s")
            .expect("the collector is alive")
    }

    #[tokio::test]
    async fn a_finished_task_reports_its_result() {
        assert_eq!(outcome_of(async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn a_panicking_task_reports_its_panic_message() {
        let outcome = outcome_of(async {
            tokio::task::yield_now().await;
            panic!("driver answer was cut short")
        })
        .await;
        assert_eq!(
            outcome,
            Err(TaskPanicked("driver answer was cut short".into()))
        );
        let formatted = format!("x {}", 3);
        let outcome = outcome_of(async move { panic!("{formatted}") }).await;
        assert_eq!(outcome, Err(TaskPanicked("x 3".into())));
    }
}
