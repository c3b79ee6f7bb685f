//! How callers reach a supervised child whichever instance of it runs: a [`Handle`] per child,
//! a [`Reserved`] handle for a child added later, and a [`Subscriber`] for one message type.

use std::sync::Arc;

use spawned_concurrency::{
    message::Message,
    tasks::{Actor, ActorRef, Handler},
};
use tokio::sync::watch;

/// A child is not running right now (restarting, or the node is stopping).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("actor {name} is not running right now (restarting or shutting down)")]
pub struct NotRunning {
    /// The child.
    pub name: &'static str,
}

/// The running instance of a child, numbered from 1 at its first start (+1 per restart).
pub(super) type Published<A> = Option<(u64, ActorRef<A>)>;

/// Reaches whichever instance of a child is live; survives restarts.
pub struct Handle<A: Actor> {
    pub(super) name: &'static str,
    pub(super) live: watch::Receiver<Published<A>>,
}

impl<A: Actor> Clone for Handle<A> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            live: self.live.clone(),
        }
    }
}

impl<A: Actor> Handle<A> {
    /// The live instance, if the child is running.
    pub fn current(&self) -> Result<ActorRef<A>, NotRunning> {
        self.live
            .borrow()
            .as_ref()
            .map(|(_, actor)| actor.clone())
            .ok_or(NotRunning { name: self.name })
    }

    /// Waits until the child runs, then returns the live instance.
    pub async fn live(&self) -> Result<ActorRef<A>, NotRunning> {
        self.live_after(None).await.map(|(_, actor)| actor)
    }

    /// Waits until an instance later than `lost` runs and returns it with its number. A caller
    /// whose work instance `lost` dropped (it stopped) waits here for the restarted one, rather
    /// than asking the stopping instance again before the supervisor noticed.
    pub async fn live_after(&self, lost: Option<u64>) -> Result<(u64, ActorRef<A>), NotRunning> {
        let mut live = self.live.clone();
        let later = |published: &Published<A>| {
            published
                .as_ref()
                .is_some_and(|(instance, _)| lost.is_none_or(|lost| *instance > lost))
        };
        let found = live
            .wait_for(later)
            .await
            .map_err(|_| NotRunning { name: self.name })?;
        found.clone().ok_or(NotRunning { name: self.name })
    }
}

impl<A: Actor> Handle<A> {
    /// A [`Subscriber`] that delivers `M` to whichever instance of this child runs.
    pub fn subscriber<M>(&self) -> Subscriber<M>
    where
        A: Handler<M>,
        M: Message,
    {
        let handle = self.clone();
        Subscriber::from_fn(move |message| {
            let not_running = NotRunning { name: handle.name };
            handle.current()?.send(message).map_err(|_| not_running)
        })
    }
}

/// A child added later, reachable already: two actors that message each other both ways get
/// each other's handle before either starts.
pub struct Reserved<A: Actor> {
    pub(super) name: &'static str,
    pub(super) publish: Arc<watch::Sender<Published<A>>>,
    handle: Handle<A>,
}

impl<A: Actor> Reserved<A> {
    /// A handle reserved for child `name`, to be added with `SupervisorBuilder::add`.
    pub fn new(name: &'static str) -> Self {
        let (publish, live) = watch::channel(None);
        Self {
            name,
            publish: Arc::new(publish),
            handle: Handle { name, live },
        }
    }

    /// The child's handle (it reaches the child once it runs).
    pub fn handle(&self) -> Handle<A> {
        self.handle.clone()
    }
}

/// Delivers messages of one type to an actor whose type the sender does not know (the chain
/// monitor's events to whoever subscribed). A subscriber that is not running loses the message:
/// each actor re-reads on start what it would have been told.
pub struct Subscriber<M>(Arc<dyn Fn(M) -> Result<(), NotRunning> + Send + Sync>);

impl<M> Clone for Subscriber<M> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<M> Subscriber<M> {
    /// A subscriber that hands each message to `deliver` (tests use a channel).
    pub fn from_fn(deliver: impl Fn(M) -> Result<(), NotRunning> + Send + Sync + 'static) -> Self {
        Self(Arc::new(deliver))
    }

    /// Delivers `message`.
    pub fn send(&self, message: M) -> Result<(), NotRunning> {
        (self.0)(message)
    }
}
