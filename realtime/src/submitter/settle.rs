//! How a proposal's time in the submitter ends: landed (final statuses from the chain, then
//! forgotten), or abandoned (its ops and tracked txs retried or rejected, later proposals with
//! it, the L2 resynced with the inbox's head), and L1 reorgs of proposals that had landed.

use std::time::Duration;

use alloy::{eips::BlockNumHash, primitives::B256, sol_types::SolEvent};
use bindings::IRealTimeInbox::ProposedAndProved;
use common::{
    backoff::Backoff,
    tx_manager::{Included, TxError},
    work::spawn_reporting,
};
use spawned_concurrency::tasks::{Context, Handler, send_after};

use super::{
    AsyncSubmitter, Job, RECENT, Resync, Stage,
    protocol::{Forgotten, GapChecked, ProposalReorged, Pump, ResyncError, Resynced, SendDone},
};
use crate::{
    batch_manager::protocol::{ProposalSettled, RewindCause, RewindL2, Settled},
    bridge::{
        status::{StatusKey, UserOpStatus},
        tx_outcome::{self, SettleError},
    },
    metrics,
    proposal_store::ProposalRecord,
    propose_tx,
};

/// What happens to the ops and tracked txs of a proposal that will not land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fate {
    /// Nothing of it ran and nothing can: back to Pending for a later block.
    Retry,
    /// Like `Retry`, but `named` (the failure names their own signal slot: their prediction
    /// no longer holds) are rejected, with `reason`.
    RetryOthers {
        /// Whose failure it is.
        named: Vec<StatusKey>,
        /// Why, for their users.
        reason: String,
    },
    /// Its tx might still be mined: rejected, so that nothing runs twice.
    Reject,
}

impl AsyncSubmitter {
    /// Stops a job's proving task and tells the Prover to forget its job.
    pub(super) fn stop_proving(&self, job: &Job) {
        if let Stage::Proving(handle) = &job.stage {
            handle.abort();
            if let Ok(prover) = self.setup.prover_actor.current() {
                let _ = prover.send(crate::prover::Cancel {
                    proposal: job.record.id,
                });
            }
        }
    }

    /// Forgets a landed proposal once the final statuses of its user ops and tracked txs are
    /// on disk (so a crash in between leaves a stored proposal, never an op without a final
    /// status). The txs' statuses come from their L2 receipts, read until the L2 answers.
    pub(super) fn forget_landed(&self, record: ProposalRecord, ctx: &Context<Self>) {
        let (store, statuses) = (self.setup.store.clone(), self.setup.statuses.clone());
        let (l2, retry) = (self.setup.l2.clone(), self.setup.retry);
        let settled = self.setup.settled.clone();
        let id = record.id;
        let work = async move {
            let mut backoff = Backoff::new(retry, Duration::from_secs(30).max(retry));
            loop {
                let settled = async {
                    let provider = l2.connect().await.map_err(SettleError::Receipts)?;
                    tx_outcome::settle_landed(&statuses, (&l2, &provider), &record).await
                }
                .await;
                match settled {
                    Ok(()) => break,
                    Err(e) => {
                        let delay = backoff.next_delay();
                        tracing::warn!(error = %e, proposal = %record.id, retry_in_ms = delay.as_millis() as u64,
                            "cannot record the final statuses of a landed proposal yet; it stays stored until then");
                        tokio::time::sleep(delay).await;
                    }
                }
            }
            if let Err(e) = store.remove(record.id) {
                tracing::error!(error = %e, proposal = %record.id, "could not forget a landed proposal");
            }
            // Sent by the task, not by the actor: it arrives even if this submitter instance
            // was restarted meanwhile. Only now do the batch manager's plans stop counting
            // the proposal's calls as ahead.
            let _ = settled.send(ProposalSettled {
                id: record.id,
                how: Settled::Landed,
            });
        };
        spawn_reporting(ctx.clone(), work, move |outcome| Forgotten { id, outcome });
    }
}

impl Handler<Forgotten> for AsyncSubmitter {
    async fn handle(&mut self, done: Forgotten, ctx: &Context<Self>) {
        if let Err(panic) = done.outcome {
            // The proposal is still stored: the successor's recovery finds it landed and
            // records its statuses.
            tracing::error!(%panic, proposal = %done.id,
                "recording a landed proposal's final statuses was lost; restarting the submitter");
            self.link.fail(
                ctx,
                format!("recording landed proposal {}: {panic}", done.id),
            );
        }
    }
}

/// The landed tx's hash if its receipt shows the inbox took exactly this proposal.
pub(super) fn check_landed(
    record: &ProposalRecord,
    included: &Included,
) -> Result<B256, (&'static str, String)> {
    let receipt = &included.receipt;
    let event = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| ProposedAndProved::decode_log(&log.inner).ok());
    let Some(event) = event else {
        return Err((
            "no_event",
            format!(
                "tx {} has no ProposedAndProved log",
                receipt.transaction_hash
            ),
        ));
    };
    let checkpoint = (
        event.checkpoint.blockNumber.to::<u64>(),
        event.checkpoint.blockHash,
    );
    if event.lastFinalizedBlockHash != record.parent_hash
        || checkpoint != (record.checkpoint.number, record.checkpoint.hash)
    {
        return Err((
            "unexpected_event",
            format!(
                "ProposedAndProved on {} ending at {:?}, expected on {} ending at ({}, {})",
                event.lastFinalizedBlockHash,
                checkpoint,
                record.parent_hash,
                record.checkpoint.number,
                record.checkpoint.hash
            ),
        ));
    }
    Ok(receipt.transaction_hash)
}

impl Handler<ProposalReorged> for AsyncSubmitter {
    async fn handle(&mut self, ProposalReorged(gone): ProposalReorged, ctx: &Context<Self>) {
        if !self.recent.iter().any(|(tx, _)| *tx == gone.tx_hash) {
            return;
        }
        tracing::error!(tx = %gone.tx_hash, checkpoint = gone.checkpoint.number,
            "an L1 reorg took back a proposal of ours; resyncing with the inbox");
        self.recent.retain(|(tx, _)| *tx != gone.tx_hash);
        self.resync = Resync::Wanted;
        self.pump(ctx);
    }
}

impl Handler<GapChecked> for AsyncSubmitter {
    async fn handle(&mut self, checked: GapChecked, _ctx: &Context<Self>) {
        let reorg_to = checked.reorg_to.unwrap_or_else(|panic| {
            tracing::error!(%panic, "checking for unproposed L2 blocks was lost; the next proposal checks again");
            None
        });
        if let Some(to) = reorg_to {
            tracing::warn!(
                to,
                "L2 blocks after the last proposal will never be proposed; reorging them away"
            );
            self.rewind(to, RewindCause::Gap);
        }
    }
}

impl Handler<Resynced> for AsyncSubmitter {
    async fn handle(&mut self, Resynced(head): Resynced, ctx: &Context<Self>) {
        let head = head.map_err(|panic| panic.to_string());
        match head.and_then(|h| h.map_err(|e| e.to_string())) {
            Ok(head) => {
                tracing::info!(inbox_head = head.number, hash = %head.hash, "resynced with the inbox");
                self.resync = Resync::No;
                self.set_landed(head);
                self.rewind(head.number, RewindCause::Resync);
                self.pump(ctx);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the inbox head to resync; retrying");
                self.resync = Resync::Wanted;
                send_after(self.setup.retry, ctx.clone(), Pump);
            }
        }
    }
}

impl AsyncSubmitter {
    /// Abandons job `index` and every later one. Once no tx is in flight, the inbox's head is
    /// re-read and the L2 reorged back to it: the inbox, not our bookkeeping, says what landed
    /// (a tx from before a restart may land late, an L1 reorg may take one back).
    /// `first` is the fate of job `index`'s ops (later jobs never sent a tx: retried).
    pub(super) fn abandon_from(
        &mut self,
        index: usize,
        (cause, why): (&'static str, &str),
        first: Fate,
        ctx: &Context<Self>,
    ) {
        let abandoned: Vec<Job> = self.jobs.drain(index..).collect();
        for (n, job) in abandoned.iter().enumerate() {
            self.stop_proving(job);
            let reason = if n == 0 {
                format!(
                    "its proposal {} was abandoned ({cause}: {why})",
                    job.record.id
                )
            } else {
                format!(
                    "its proposal {} was abandoned after the earlier proposal {} ({cause})",
                    job.record.id, abandoned[0].record.id
                )
            };
            self.forget(
                &job.record,
                &reason,
                if n == 0 { first.clone() } else { Fate::Retry },
            );
            metrics::submitter()
                .proposals_failed
                .with_label_values(&[cause])
                .inc();
        }
        let ids: Vec<String> = abandoned.iter().map(|j| j.record.id.to_string()).collect();
        tracing::error!(cause, error = why, abandoned = ?ids,
            "proposals abandoned; the L2 goes back to the inbox's head");
        self.resync = Resync::Wanted;
        self.show_in_flight();
        self.pump(ctx);
    }

    /// Forgets a proposal that will not land. Its user ops and tracked txs go back to Pending
    /// for a later block (rejected once they used up their attempts), or, when its tx might
    /// still be mined (`Fate::Reject`), are rejected; either is queued before the removal, so
    /// a restart never finds them without a status or a proposal.
    pub(super) fn forget(&self, record: &ProposalRecord, why: &str, fate: Fate) {
        match fate {
            Fate::Retry => self.setup.statuses.retry_soon(record.retries(), why.into()),
            Fate::RetryOthers { named, reason } => {
                // Final first: the retry leaves final statuses alone.
                self.setup
                    .statuses
                    .set_soon(&named, UserOpStatus::Rejected { reason });
                self.setup.statuses.retry_soon(record.retries(), why.into());
            }
            Fate::Reject => self.setup.statuses.set_soon(
                &record.status_keys(),
                UserOpStatus::Rejected {
                    reason: format!("{why}; the op did not run on L1, send it again"),
                },
            ),
        }
        if let Err(e) = self.setup.store.remove(record.id) {
            tracing::error!(error = %e, proposal = %record.id, "could not forget a proposal");
        }
        let _ = self.setup.settled.send(ProposalSettled {
            id: record.id,
            how: Settled::Abandoned,
        });
    }

    /// Asks the batch manager, which owns the L2 head, to roll the L2 back to block `to`.
    pub(super) fn rewind(&self, to: u64, cause: RewindCause) {
        if let Err(e) = self.setup.rewind.send(RewindL2 { to, cause }) {
            // Its restart reads the L2 back against the inbox and drops what does not continue.
            tracing::warn!(error = %e, to, "batch manager not running; the L2 rollback is left to its restart");
        }
    }

    pub(super) fn start_resync(&mut self, ctx: &Context<Self>) {
        self.resync = Resync::Reading;
        if let Some(manager) = self.running.as_mut().and_then(|r| r.manager.as_mut()) {
            manager.forget_nonce();
        }
        for job in std::mem::take(&mut self.jobs) {
            self.stop_proving(&job);
            self.forget(
                &job.record,
                "its proposal was dropped when the node resynced with the inbox on L1",
                Fate::Retry,
            );
        }
        let setup = self.setup.clone();
        let work = async move {
            async {
                let l1p = setup.l1.connect().await.map_err(ResyncError::Connect)?;
                let l2p = setup.l2.connect().await.map_err(ResyncError::Connect)?;
                crate::restart::inbox_head(&setup.l1, &l1p, &setup.l2, &l2p, setup.inbox)
                    .await
                    .map_err(ResyncError::from)
            }
            .await
        };
        spawn_reporting(ctx.clone(), work, Resynced);
    }
}

impl Handler<SendDone> for AsyncSubmitter {
    async fn handle(&mut self, done: SendDone, ctx: &Context<Self>) {
        let result = match done.outcome {
            Ok((manager, result)) => {
                if let Some(running) = self.running.as_mut() {
                    running.manager = Some(manager);
                }
                result
            }
            Err(panic) => {
                // The tx manager went down with the task: what was sent is only known from the
                // journal, which the successor's recovery reads.
                tracing::error!(%panic, proposal = %done.id,
                    "the proposal-sending task was lost; restarting the submitter");
                self.link
                    .fail(ctx, format!("sending proposal {}: {panic}", done.id));
                return;
            }
        };
        let Some(index) = self.jobs.iter().position(|j| j.record.id == done.id) else {
            self.pump(ctx);
            return;
        };
        let record = self.jobs[index].record.clone();
        let fate = fate_of(&record, &result);
        match result
            .map_err(|e| failure_of(&e))
            .and_then(|included| check_landed(&record, &included))
        {
            Ok(tx_hash) => self.landed(index, record, tx_hash, done.sealed_at, ctx),
            Err((cause, why)) => self.abandon_from(index, (cause, &why), fate, ctx),
        }
        self.pump(ctx);
    }
}

impl AsyncSubmitter {
    /// Job `index` landed in `tx_hash`: counted, the inbox head moves on, and the proposal is
    /// forgotten once its final statuses are stored.
    fn landed(
        &mut self,
        index: usize,
        record: ProposalRecord,
        tx_hash: B256,
        sealed_at: tokio::time::Instant,
        ctx: &Context<Self>,
    ) {
        let m = metrics::submitter();
        m.proposals_landed.inc();
        m.sealed_to_landed_seconds
            .observe(sealed_at.elapsed().as_secs_f64());
        let now_ms = common::fork::unix_now_ms();
        for at in &record.preconfirmed_at_ms {
            m.block_settlement_seconds
                .observe(now_ms.saturating_sub(*at) as f64 / 1_000.0);
        }
        tracing::info!(proposal = %record.id, %tx_hash, checkpoint = record.checkpoint.number,
            checkpoint_hash = %record.checkpoint.hash, last_finalized = %record.parent_hash,
            "proposal landed on L1");
        self.jobs.remove(index);
        self.set_landed(BlockNumHash {
            number: record.checkpoint.number,
            hash: record.checkpoint.hash,
        });
        self.recent.push_back((tx_hash, record.checkpoint.hash));
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
        self.forget_landed(record, ctx);
    }
}

/// What happens to the ops of a proposal whose tx ended with `result`. Only a tx that an L1
/// reorg left behind a nonce gap can still be mined later: its ops may yet run, so they are not
/// tried again. A revert that names an op's or a tx's signal slot is that one's own failure.
fn fate_of(record: &ProposalRecord, result: &Result<Included, TxError>) -> Fate {
    match result {
        Err(TxError::NonceGap { .. }) => Fate::Reject,
        Err(TxError::WouldRevert(m)) => Fate::RetryOthers {
            named: record.named_in(m),
            reason: format!(
                "its proposal {} could not land: {}; it did not run, send it again",
                record.id,
                propose_tx::revert_meaning(m).unwrap_or("its L1 calls revert now")
            ),
        },
        _ => Fate::Retry,
    }
}

/// The metric label and the words of a proposal tx that failed.
fn failure_of(error: &TxError) -> (&'static str, String) {
    match error {
        TxError::WouldRevert(m) => ("would_revert", propose_tx::explain_revert(m)),
        TxError::Reverted { .. } => ("reverted", error.to_string()),
        TxError::InsufficientFunds { .. } => ("insufficient_funds", error.to_string()),
        TxError::Fees(_) => ("fee_cap", error.to_string()),
        _ => ("tx", error.to_string()),
    }
}
