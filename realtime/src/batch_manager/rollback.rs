//! Rolling the L2 back: the batch manager owns the L2 head, so it alone calls the driver's
//! `reorgStaleBlock`, for its own recovery or when another actor asks (`RewindL2`).

use super::protocol::{Reorged, RewindL2};

use spawned_concurrency::tasks::{Context, Handler};

use super::{BatchManager, phase::Event};
use crate::metrics;

/// Times an asked rollback is tried before it is given up (the driver may refuse it for good,
/// e.g. a target above its head; the submitter asks again if its proposals still do not
/// continue).
const REWIND_ATTEMPTS: u32 = 3;

impl Handler<Reorged> for BatchManager {
    async fn handle(&mut self, reorged: Reorged, ctx: &Context<Self>) {
        let to = reorged.to;
        match (reorged.outcome, reorged.cause) {
            (Err(panic), _) => return self.lost(panic, "reorging the L2 back", ctx),
            (Ok(Ok(outcome)), None) => tracing::info!(to, new_head = %outcome.new_head_block_hash,
                removed = outcome.blocks_removed, "L2 reorged back to our last head"),
            (Ok(Err(error)), None) => tracing::warn!(%error, to,
                "reorg to our last head failed; retrying on the next tick"),
            (Ok(Ok(outcome)), Some(cause)) => {
                // The blocks above `to` are gone with the open proposal built on them; the
                // next observation adopts the new head.
                let dropped = self.proposals.discard_open();
                self.head = None;
                self.rewind_failures = 0;
                // A failed rollback to a block at or above this one is done by this one.
                if self.failed_rewind.as_ref().is_some_and(|f| f.to >= to) {
                    self.failed_rewind = None;
                }
                tracing::info!(to, cause = cause.label(), new_head = %outcome.new_head_block_hash,
                    removed = outcome.blocks_removed, dropped_proposal = ?dropped,
                    "L2 rolled back as asked");
            }
            (Ok(Err(error)), Some(cause)) => {
                self.rewind_failures += 1;
                if self.rewind_failures >= REWIND_ATTEMPTS {
                    tracing::error!(%error, to, cause = cause.label(), attempts = self.rewind_failures,
                        "L2 rollback failed again; giving it up (the submitter asks again if its proposals still do not continue)");
                    metrics::preconf()
                        .block_failures
                        .with_label_values(&["rewind_given_up"])
                        .inc();
                    self.rewind_failures = 0;
                } else {
                    tracing::warn!(%error, to, cause = cause.label(),
                        "L2 rollback failed; trying again at the next tick");
                    self.failed_rewind = Some(RewindL2 { to, cause });
                }
            }
        }
        let action = self.step(Event::RewindDone);
        self.act(action, ctx);
    }
}

impl Handler<RewindL2> for BatchManager {
    async fn handle(&mut self, rewind: RewindL2, ctx: &Context<Self>) {
        tracing::info!(
            to = rewind.to,
            cause = rewind.cause.label(),
            "L2 rollback asked for"
        );
        self.ask_rewind(rewind, ctx);
    }
}

impl BatchManager {
    /// Rolls back now if nothing else runs, else when it ends; the lowest block asked wins.
    pub(super) fn ask_rewind(&mut self, rewind: RewindL2, ctx: &Context<Self>) {
        let lowest = [self.rewind.take(), self.failed_rewind.take()]
            .into_iter()
            .flatten()
            .fold(
                rewind,
                |lowest, other| {
                    if other.to < lowest.to { other } else { lowest }
                },
            );
        self.rewind = Some(lowest);
        let action = self.step(Event::RewindAsked);
        self.act(action, ctx);
    }
}
