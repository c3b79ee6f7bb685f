//! The node's supervision step with a real actor that keeps crashing: the node must stop with a
//! non-zero exit code and the actor's own error, not hang or restart forever.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::{process::ExitCode, time::Duration};

use common::supervisor::{
    ChildLink, Restart, SupervisorBuilder, SupervisorConfig, SupervisorError,
};
use node::{
    app::{NodeError, supervise},
    health_server::Phase,
};
use spawned_concurrency::{
    message::Message,
    tasks::{Actor, Context, Handler},
};
use tokio::sync::watch;

/// Fails as soon as it starts, like an actor whose state cannot be recovered.
struct Doomed {
    link: ChildLink,
}

impl Actor for Doomed {
    async fn started(&mut self, ctx: &Context<Self>) {
        self.link.attach();
        self.link.fail(ctx, "journal is corrupt at nonce 7");
    }
}

struct Nothing;
impl Message for Nothing {
    type Result = ();
}
impl Handler<Nothing> for Doomed {
    async fn handle(&mut self, _: Nothing, _: &Context<Self>) {}
}

#[tokio::test]
async fn meltdown_makes_the_node_exit_non_zero_with_the_actors_error() {
    let mut config = SupervisorConfig::new(2, Duration::from_secs(60), Duration::from_secs(2));
    config.backoff_min = Duration::from_millis(10);
    let mut builder = SupervisorBuilder::new(config);
    builder.child("doomed", Restart::Permanent, |link| {
        Ok::<_, String>(Doomed { link })
    });
    let supervisor = builder.start();
    let (phase, _) = watch::channel(Phase::Starting);

    let never = std::future::pending::<&'static str>();
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        supervise(supervisor, never, &phase),
    )
    .await
    .expect("the node gives up instead of restarting forever");

    let error = outcome.unwrap_err();
    assert!(matches!(
        error,
        NodeError::Supervisor(SupervisorError::Meltdown {
            child: "doomed",
            ..
        })
    ));
    assert_eq!(error.exit_code(), ExitCode::FAILURE);
    let text = error.to_string();
    assert!(text.contains("journal is corrupt at nonce 7"), "{text}");
    assert!(matches!(*phase.borrow(), Phase::ShuttingDown { .. }));
}
