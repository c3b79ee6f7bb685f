//! A block's check with the sidecar, the I/O side of [`check`](super::check): opening the
//! iteration, sending what the check asks for, routing verdicts (pushed, or polled with
//! `GetTransactions` from 60 % of the budget on), the budget's deadline, and the answer.

use alloy::primitives::B256;
use common::{
    credible_layer::wire::{
        GetTransactionsRequest, ReorgEvent, ResultStatus, Transaction, TransactionEnv, event,
    },
    work::spawn_reporting,
};
use spawned_concurrency::tasks::{Context, Handler, send_after};
use tokio::{sync::oneshot, time::Instant};

use super::{
    CredibleLayerClient,
    check::{BlockCheck, FailOpen, Judgement, Outgoing, Progress},
    encode::{self, BlockHeaderEnv},
    metrics,
    protocol::{CheckBlock, CheckDeadline, CheckReply, PollMissing, Polled},
};

/// A block's check in progress.
pub(super) struct Running {
    pub(super) seq: u64,
    pub(super) env: BlockHeaderEnv,
    pub(super) block: u64,
    pub(super) iteration: u64,
    pub(super) check: BlockCheck,
    pub(super) tx_envs: Vec<TransactionEnv>,
    pub(super) reply: oneshot::Sender<CheckReply>,
    pub(super) started: Instant,
    /// A `GetTransactions` poll is in flight.
    pub(super) polling: bool,
    /// What to send first, until the iteration is opened (it waits for a connection that is
    /// being made, within the budget).
    pub(super) first: Option<Progress>,
}

impl CredibleLayerClient {
    /// Sends what the check asked for and finishes it when it is done.
    pub(super) fn advance(&mut self, progress: Progress) {
        let Some(running) = &self.running else {
            return;
        };
        let (block, iteration) = (running.block, running.iteration);
        let out = match progress {
            Progress::Wait => return,
            Progress::Done(judgement) => return self.finish(judgement),
            Progress::Send(out) => out,
        };
        let events: Vec<event::Event> = out
            .into_iter()
            .map(|o| match o {
                Outgoing::Tx {
                    candidate,
                    index,
                    prev,
                } => {
                    let hash = running.check.candidate(candidate).hash;
                    event::Event::Transaction(Transaction {
                        tx_execution_id: Some(encode::execution_id(block, iteration, hash, index)),
                        tx_env: running.tx_envs.get(candidate).cloned(),
                        prev_tx_hash: prev.map(|p| p.to_vec()),
                    })
                }
                Outgoing::Reorg { index, hashes } => {
                    let newest = hashes.last().copied().unwrap_or_default();
                    event::Event::Reorg(ReorgEvent {
                        tx_execution_id: Some(encode::execution_id(
                            block, iteration, newest, index,
                        )),
                        tx_hashes: hashes.iter().map(|h| h.to_vec()).collect(),
                    })
                }
            })
            .collect();
        let settled = running.check.settled();
        for event in events {
            self.send(event);
        }
        if settled && let Some(running) = &self.running {
            let judgement = running.check.judgement().clone();
            self.finish(judgement);
        }
    }

    pub(super) fn finish(&mut self, judgement: Judgement) {
        let Some(running) = self.running.take() else {
            return;
        };
        let m = metrics::credible_layer();
        m.check_seconds
            .observe(running.started.elapsed().as_secs_f64());
        m.dropped.inc_by(judgement.dropped.len() as u64);
        m.deferred.inc_by(judgement.deferred.len() as u64);
        let until = running.block + self.setup.config.retry_after_blocks;
        for hash in &judgement.dropped {
            tracing::info!(tx = %hash, block = running.block, retry_from = until,
                "tx left out of the block: it fails a Credible Layer assertion");
            self.held.insert(*hash, until);
        }
        if let Some(cause) = judgement.fail_open {
            let unjudged = running.check.missing().len() as u64;
            m.fail_open_blocks.with_label_values(&[cause.label()]).inc();
            m.fail_open_txs
                .with_label_values(&[cause.label()])
                .inc_by(unjudged);
            tracing::warn!(
                block = running.block,
                cause = cause.label(),
                unjudged,
                "Credible Layer check incomplete; the block includes the txs not judged"
            );
        }
        // The block task may have given up waiting: nobody to tell.
        let opened = running.first.is_none();
        let _ = running.reply.send(CheckReply {
            judgement,
            iteration: opened.then_some(running.iteration),
        });
    }

    pub(super) fn on_result(&mut self, result: &common::credible_layer::wire::TransactionResult) {
        let Some(running) = &mut self.running else {
            return;
        };
        let Some(id) = &result.tx_execution_id else {
            return;
        };
        if result.status() == ResultStatus::Unspecified {
            return;
        }
        let block = alloy::primitives::U256::try_from_be_slice(&id.block_number)
            .unwrap_or_default()
            .saturating_to::<u64>();
        if block != running.block || id.iteration_id != running.iteration {
            return;
        }
        let hash = B256::try_from(id.tx_hash.as_slice()).unwrap_or_default();
        let progress = running.check.on_result(id.index, hash, result.status());
        self.advance(progress);
    }
}

impl Handler<CheckBlock> for CredibleLayerClient {
    async fn handle(&mut self, msg: CheckBlock, ctx: &Context<Self>) {
        if let Some(stale) = &self.running {
            // Its block task gave up; the sidecar's iteration is simply never selected.
            let judgement = stale.check.give_up(FailOpen::Timeout);
            self.finish(judgement);
        }
        let CheckBlock {
            env,
            candidates,
            tx_envs,
            reply,
        } = msg;
        let held = &self.held;
        let (check, progress) = BlockCheck::start(candidates, |hash| {
            held.get(hash).is_some_and(|until| env.number < *until)
        });
        self.seq += 1;
        let iteration = self.next_iteration;
        self.next_iteration += 1;
        self.running = Some(Running {
            seq: self.seq,
            env,
            block: env.number,
            iteration,
            check,
            tx_envs,
            reply,
            started: Instant::now(),
            polling: false,
            first: Some(progress),
        });
        let budget = self.setup.config.block_budget;
        send_after(budget, ctx.clone(), CheckDeadline { seq: self.seq });
        if self.live.is_none() && self.connecting {
            // Starting up (or back): the connection is on its way; the check waits for it
            // within its budget rather than going ahead unjudged at once.
            return;
        }
        self.begin(ctx);
    }
}

impl CredibleLayerClient {
    /// Opens the waiting check's iteration and sends its txs; without a connection it ends
    /// fail-open at once.
    pub(super) fn begin(&mut self, ctx: &Context<Self>) {
        let Some(running) = &mut self.running else {
            return;
        };
        let Some(progress) = running.first.take() else {
            return;
        };
        let (seq, iteration) = (running.seq, running.iteration);
        let opening = encode::new_iteration(&running.env, iteration);
        if !self.send(event::Event::NewIteration(opening)) {
            let judgement = self
                .running
                .as_ref()
                .map(|r| r.check.give_up(FailOpen::Disconnected))
                .unwrap_or_default();
            return self.finish(judgement);
        }
        let budget = self.setup.config.block_budget;
        send_after(
            budget * 6 / 10,
            ctx.clone(),
            PollMissing {
                seq,
                every: (budget / 10).max(std::time::Duration::from_millis(5)),
            },
        );
        self.advance(progress);
    }
}

impl Handler<CheckDeadline> for CredibleLayerClient {
    async fn handle(&mut self, CheckDeadline { seq }: CheckDeadline, _: &Context<Self>) {
        if let Some(running) = &self.running
            && running.seq == seq
        {
            let judgement = running.check.give_up(FailOpen::Timeout);
            self.finish(judgement);
        }
    }
}

impl Handler<PollMissing> for CredibleLayerClient {
    async fn handle(&mut self, PollMissing { seq, every }: PollMissing, ctx: &Context<Self>) {
        let (Some(running), Some(live)) = (&mut self.running, &self.live) else {
            return;
        };
        if running.seq != seq {
            return;
        }
        send_after(every, ctx.clone(), PollMissing { seq, every });
        if running.polling {
            return;
        }
        running.polling = true;
        // A verdict may never be pushed (results are not replayed, and a lagging subscriber
        // loses some): look the missing ones up, one lookup at a time.
        let ids = running
            .check
            .missing()
            .into_iter()
            .map(|(index, hash)| {
                encode::execution_id(running.block, running.iteration, hash, index)
            })
            .collect();
        let mut client = live.client.clone();
        let limit = self.setup.config.block_budget;
        let work = async move {
            let lookup = client.get_transactions(GetTransactionsRequest {
                tx_execution_ids: ids,
            });
            match tokio::time::timeout(limit, lookup).await {
                Ok(answer) => answer.map(|r| r.into_inner().results),
                Err(_) => Err(tonic::Status::deadline_exceeded(
                    "GetTransactions timed out",
                )),
            }
        };
        spawn_reporting(ctx.clone(), work, move |outcome| Polled { seq, outcome });
    }
}

impl Handler<Polled> for CredibleLayerClient {
    async fn handle(&mut self, Polled { seq, outcome }: Polled, _: &Context<Self>) {
        match &mut self.running {
            Some(running) if running.seq == seq => running.polling = false,
            _ => return,
        }
        match outcome {
            Ok(Ok(results)) => {
                for result in results {
                    self.on_result(&result);
                }
            }
            Ok(Err(status)) => {
                tracing::debug!(%status, "GetTransactions failed; waiting for pushed verdicts")
            }
            Err(panic) => tracing::debug!(%panic, "GetTransactions task lost"),
        }
    }
}
