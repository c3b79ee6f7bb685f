//! One heartbeat after the observation: reconcile a block whose driver answer was lost, check
//! the L2 head, decide whether to build, build, and record what the driver inserted.

use super::protocol::{Built, Observed, Reorged, RewindCause};
use alloy::primitives::B256;
use common::{
    driver::InsertedBlock,
    faults::{self, FaultPoint},
    work::{TaskPanicked, spawn_reporting},
};

use super::io::{BlockContent, BlockUserOps, BuildFailure, BuiltBlock, Observation, TickError};
use spawned_concurrency::tasks::{Context, Handler};

use super::record::{TxOutcomes, block_signals};
use super::{
    BatchManager, Head, UnknownOutcome,
    phase::{self, Action, Event, Unknown},
};
use crate::{
    block_build::{BlockFrame, ParentBlock},
    block_policy::{self, BuildReason, Decision, TickView},
    bridge::status::{StatusKey, UserOpStatus},
    metrics,
    proposal::{L1Anchor, SealReason},
};

impl Handler<Observed> for BatchManager {
    async fn handle(&mut self, Observed(observed): Observed, ctx: &Context<Self>) {
        let observation = match observed {
            Err(panic) => return self.lost(panic, "observing the chains", ctx),
            Ok(Ok(o)) => o,
            Ok(Err(error)) => {
                self.fail(&error, "could not observe the chains", ctx);
                return;
            }
        };
        if let Some(unknown) = self.unknown.take()
            && self.reconcile(unknown, &observation) == Reconciled::Wait
        {
            self.tick_done(ctx);
            return;
        }
        if !self.check_head(&observation, ctx) {
            return;
        }
        self.note_holds(&observation.cross_chain.held);
        for (id, reason) in &observation.cross_chain.rejected {
            self.setup.statuses.set_soon(
                &[StatusKey::Op(*id)],
                UserOpStatus::Rejected {
                    reason: reason.clone(),
                },
            );
        }
        self.decide_and_build(observation, ctx);
    }
}

/// Whether a block with an unknown outcome still blocks building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reconciled {
    /// Recorded as inserted, or given up on: build as usual.
    Yes,
    /// Still unknown: do not build on top yet.
    Wait,
}

impl BatchManager {
    /// Moves the phase on `event` and returns what to do.
    pub(super) fn step(&mut self, event: Event) -> Action {
        let (phase, action) = phase::next(self.phase, event, self.rewind.is_some());
        self.phase = phase;
        action
    }

    /// Does what a step said.
    pub(super) fn act(&mut self, action: Action, ctx: &Context<Self>) {
        match action {
            Action::Rewind => match self.rewind.take() {
                Some(rewind) => self.spawn_reorg(rewind.to, Some(rewind.cause), ctx),
                None => {
                    let action = self.step(Event::RewindDone);
                    self.act(action, ctx);
                }
            },
            Action::EndTick => self.finish_tick(),
            Action::Miss => {
                self.missed_ticks += 1;
                tracing::debug!(
                    missed = self.missed_ticks,
                    "earlier work still running; tick skipped"
                );
            }
            Action::NoL1Head => {
                tracing::debug!("no L1 head from the chain monitor yet; tick skipped")
            }
            Action::Observe | Action::Nothing | Action::Defer => {}
        }
    }

    /// The tick's work ended.
    pub(super) fn tick_done(&mut self, ctx: &Context<Self>) {
        let action = self.step(Event::TickDone);
        self.act(action, ctx);
    }

    /// Ends the tick: the open proposal is sealed if this tick was the last that makes the
    /// next L1 slot, and what it looks like now is published.
    fn finish_tick(&mut self) {
        self.production = phase::production_after(
            std::mem::take(&mut self.production),
            self.tick_failure.take(),
        );
        if self.seal_due && self.slot_free() {
            let sealed = self.proposals.seal(SealReason::Slot);
            // A proposal of forced inclusions only waits for a block of its own, then seals.
            self.seal_due = self.proposals.awaits_own_block();
            self.hand_over(sealed);
        }
        self.publish();
    }

    /// Whether the proposals sealed and not on L1 yet leave a slot for another one.
    fn slot_free(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|running| self.unlanded.len() < running.cadence.max_unlanded())
    }

    pub(super) fn fail(&mut self, error: &TickError, what: &str, ctx: &Context<Self>) {
        metrics::preconf()
            .block_failures
            .with_label_values(&[error.cause()])
            .inc();
        if error.stops_production() {
            self.tick_failure = Some(format!("{}: {error}", error.cause()));
        }
        tracing::warn!(%error, cause = error.cause(), "{what}; block production resumes on the next tick");
        self.tick_done(ctx);
    }

    /// A block whose driver answer was lost: is it the L2 head now?
    fn reconcile(&mut self, mut unknown: UnknownOutcome, seen: &Observation) -> Reconciled {
        let data = &unknown.block.request.executable_data;
        if seen.parent.number == data.block_number
            && seen.parent.facts.timestamp == data.timestamp
            && seen.first_tx == Some(unknown.block.anchor_tx_hash)
        {
            tracing::info!(number = data.block_number, hash = %seen.parent.hash,
                "the driver inserted the block whose answer was lost; recording it");
            let inserted = InsertedBlock {
                number: seen.parent.number,
                hash: seen.parent.hash,
                state_root: seen.state_root,
                parent_hash: data.parent_hash,
            };
            self.record(unknown.block, unknown.anchor, inserted, None);
            return Reconciled::Yes;
        }
        if self.head.is_some_and(|h| h.hash == seen.parent.hash) {
            unknown.ticks_waited += 1;
            if phase::still_unknown(unknown.ticks_waited) == Unknown::Wait {
                tracing::info!(
                    number = data.block_number,
                    waited = unknown.ticks_waited,
                    "block outcome still unknown; not building on top until it is settled"
                );
                self.unknown = Some(unknown);
                return Reconciled::Wait;
            }
            tracing::warn!(
                number = data.block_number,
                "the driver did not insert the block whose answer was lost; its txs stay in the pool"
            );
        }
        Reconciled::Yes
    }

    /// A task of this actor panicked: what it was doing is unknown (a block may or may not be
    /// on L2), so the actor fails and its successor starts from what the chains say.
    pub(super) fn lost(&mut self, panic: TaskPanicked, what: &str, ctx: &Context<Self>) {
        tracing::error!(%panic, "batch manager task lost while {what}; restarting the actor");
        self.link.fail(ctx, format!("{what}: {panic}"));
    }

    /// Rolls the L2 back to block `to` on a task; the outcome comes back as `Reorged`.
    pub(super) fn spawn_reorg(&self, to: u64, cause: Option<RewindCause>, ctx: &Context<Self>) {
        let clients = self.setup.clients.clone();
        let work = async move { clients.driver.reorg_stale_block(to).await };
        spawn_reporting(ctx.clone(), work, move |outcome| Reorged {
            to,
            cause,
            outcome,
        });
    }

    /// Compares the L2 head with the head we verified; recovers when it moved. True: go on.
    fn check_head(&mut self, seen: &Observation, ctx: &Context<Self>) -> bool {
        let ours = match self.head {
            None => {
                self.head = Some(Head::from(&seen.parent));
                return true;
            }
            Some(ours) if ours.hash == seen.parent.hash => return true,
            Some(ours) => ours,
        };
        metrics::preconf()
            .block_failures
            .with_label_values(&["head_moved"])
            .inc();
        if seen.parent.number > ours.number {
            tracing::warn!(cause = "head_moved", ours = ours.number, our_hash = %ours.hash, head = seen.parent.number,
                head_hash = %seen.parent.hash,
                "L2 head moved under us (blocks we did not build); reorging back to our last head");
            self.rewind_tick(ours.number, ctx);
            return false;
        }
        let dropped = self.proposals.discard_open();
        tracing::error!(cause = "head_moved", ours = ours.number, our_hash = %ours.hash, head = seen.parent.number,
            head_hash = %seen.parent.hash, dropped_proposal = ?dropped,
            "our L2 blocks were removed (reorg); continuing from the new head");
        self.head = Some(Head::from(&seen.parent));
        true
    }

    fn decide_and_build(&mut self, seen: Observation, ctx: &Context<Self>) {
        if self.running.is_none() {
            self.tick_done(ctx);
            return;
        }
        if let Some(inclusion) = self.next_forced() {
            return self.build_forced(seen, inclusion, ctx);
        }
        // A proposal holding only forced inclusions needs a block of the node's own to seal.
        let needs_own_block = self.proposals.awaits_own_block();
        let view = TickView {
            pending_txs: seen.pool.len(),
            timestamp: seen.now,
            head_timestamp: seen.parent.facts.timestamp,
            idle_ticks: self.idle_ticks,
            proposal_open: self.proposals.open_anchor().is_some(),
            has_node_content: !seen.cross_chain.ops.is_empty()
                || !seen.cross_chain.returns.is_empty()
                || needs_own_block,
        };
        let reason = match block_policy::decide(&self.setup.config.block_policy, &view) {
            Decision::Wait(why) => {
                tracing::trace!(?why, pending = view.pending_txs, "no block this tick");
                self.tick_done(ctx);
                return;
            }
            Decision::Build(reason) => reason,
        };
        let signal_slots = block_signals(&seen.cross_chain.ops, &seen.cross_chain.returns);
        let sealed = self
            .proposals
            .seal_before(seen.l1_head, seen.now, !signal_slots.is_empty());
        self.hand_over(sealed);
        let Some(running) = &self.running else {
            self.tick_done(ctx);
            return;
        };
        let anchor = self.anchor_choice(seen.l1_head);
        let frame = BlockFrame {
            chain_id: running.l2_chain_id,
            anchor_contract: self.setup.config.anchor,
            coinbase: self.setup.coinbase,
            basefee_sharing_pctg: running.basefee_sharing_pctg,
            golden_touch_nonce: 0,
            anchor: L1Anchor {
                number: 0,
                hash: B256::ZERO,
                state_root: B256::ZERO,
            },
            signal_slots,
            timestamp: seen.now,
            base_fee: seen.base_fee,
            // After forced inclusions, the proposal's parent's limit: Raiko checks the
            // proposer's blocks' limits from there.
            gas_limit: self
                .proposals
                .open_forced_gas_limit()
                .unwrap_or(seen.parent.gas_limit_without_anchor()),
        };
        tracing::debug!(
            ?reason,
            txs = seen.pool.len(),
            number = seen.parent.number + 1,
            "building a block"
        );
        let clients = self.setup.clients.clone();
        let (l1, l2) = (running.l1.clone(), running.l2.clone());
        let parent = seen.parent;
        let content = seen.cross_chain;
        let user_ops = match (&self.setup.cross_chain, content.ops.is_empty()) {
            (Some(cross_chain), false) => Some(BlockUserOps {
                ops: content.ops,
                signer: cross_chain.l2_signer.expose().clone(),
                l2_bridge: cross_chain.contracts.l2_bridge,
            }),
            _ => None,
        };
        let work = async move {
            faults::reach(FaultPoint::BlockBuild);
            super::io::build(
                &clients,
                &l1,
                &l2,
                parent,
                frame,
                anchor,
                BlockContent {
                    pool: seen.pool,
                    user_ops,
                    returns: content.returns,
                    consumers: content.consumers,
                    only_for_txs: matches!(
                        reason,
                        BuildReason::EnoughTxs
                            | BuildReason::WaitedLongEnough
                            | BuildReason::NoOpenProposal
                    ),
                    forced: None,
                },
            )
            .await
        };
        spawn_reporting(ctx.clone(), work, move |outcome| Built { parent, outcome });
    }
}

impl Handler<Built> for BatchManager {
    async fn handle(&mut self, built: Built, ctx: &Context<Self>) {
        match built.outcome {
            Err(panic) => self.lost(panic, "building a block", ctx),
            Ok(Ok(block)) => self.inserted(built.parent, block, ctx),
            Ok(Err(BuildFailure {
                error: TickError::AllLeftOut,
                ..
            })) => {
                tracing::debug!("the Credible Layer left every pool tx out; no block this tick");
                self.tick_done(ctx);
            }
            Ok(Err(failure)) => {
                if let TickError::AssertionFailed(hashes) = &failure.error {
                    for hash in hashes {
                        self.failing
                            .insert(*hash, "it fails a Credible Layer assertion".into());
                    }
                }
                if let Some((block, anchor)) = failure.sent {
                    tracing::warn!(error = %failure.error,
                        number = block.request.executable_data.block_number,
                        "preconfBlocks outcome unknown; reconciling with the L2 head before building again");
                    self.unknown = Some(UnknownOutcome {
                        block,
                        anchor,
                        ticks_waited: 0,
                    });
                }
                self.fail(&failure.error, "block not preconfirmed", ctx);
            }
        }
    }
}

impl BatchManager {
    /// The driver inserted the block built on `parent`: recorded, or rolled back when it does
    /// not continue our head or an answered L2→L1→L2 tx in it reverted.
    fn inserted(&mut self, parent: ParentBlock, block: BuiltBlock, ctx: &Context<Self>) {
        let m = metrics::preconf();
        m.block_build_seconds
            .with_label_values(&["node"])
            .observe(block.node_time.as_secs_f64());
        m.block_build_seconds
            .with_label_values(&["driver"])
            .observe(block.driver_time.as_secs_f64());
        let inserted = block.inserted;
        if inserted.parent_hash != parent.hash || inserted.number != parent.number + 1 {
            tracing::error!(
                expected_parent = %parent.hash,
                expected_number = parent.number + 1,
                got_parent = %inserted.parent_hash,
                got_number = inserted.number,
                "driver returned a header that does not continue our head; reorging back"
            );
            m.block_failures.with_label_values(&["bad_header"]).inc();
            return self.rewind_tick(parent.number, ctx);
        }
        let outcome = TxOutcomes {
            consumers: block.consumers,
            reverted: block.reverted,
        };
        let doomed = super::cross_chain::doomed(&outcome.consumers, outcome.reverted.as_ref());
        if !doomed.is_empty() {
            // Their answers' signals are required by the anchor, but only their own L2→L1
            // messages make L1 send them: the proposal could never land.
            tracing::error!(number = inserted.number, txs = ?doomed,
                "L2→L1→L2 txs reverted in the block although their answers were in it; reorging it back and taking them as they are");
            m.block_failures
                .with_label_values(&["answered_tx_reverted"])
                .inc();
            for hash in doomed {
                self.failing.insert(hash, format!(
                    "it reverted in L2 block {} although the L1 answers it consumes were fast signals of that block",
                    inserted.number
                ));
            }
            return self.rewind_tick(parent.number, ctx);
        }
        self.record(block.assembled, block.anchor, inserted, Some(outcome));
        self.tick_done(ctx);
    }

    /// The tick rolls the L2 back to `to` before anything else is built.
    fn rewind_tick(&mut self, to: u64, ctx: &Context<Self>) {
        self.step(Event::TickRewinds);
        self.spawn_reorg(to, None, ctx);
    }
}
