//! The AsyncSubmitter actor: takes sealed proposals to L1 without stalling block production.
//!
//! Per proposal, in id order: the blob payload (encrypted in privacy mode) and its blobs are
//! made once; the versioned hashes go to Raiko with the blobs while the cell proofs are computed
//! alongside the proof; the proved proposal is sent as one blob tx by the [`TxManager`]. Up to
//! `MAX_PROPOSALS_IN_FLIGHT` proposals are proved at once, each on its predecessor's checkpoint,
//! and sent strictly in order, each after the previous one landed. A proposal is done when its
//! receipt carries `ProposedAndProved` with the expected `lastFinalizedBlockHash` and checkpoint.
//!
//! Failure of proposal N (proof refused too often, revert, tx error) abandons N and every later
//! one; once no tx is in flight the inbox head is re-read and the batch manager, which owns the
//! L2 head, is asked to roll the L2 back to it (`RewindL2`). The batch manager hears of every
//! proposal that leaves the submitter (`ProposalSettled`). The abandoned proposals' user ops and
//! tracked txs go back to Pending for a later block unless the failure was theirs ([`settle`]).
//! An L1 reorg that removes a landed proposal (`ProposalReorged`) does the same.

pub mod protocol;
mod prove;
mod recovery;
mod rules;
mod settle;

use std::{collections::VecDeque, sync::Arc, time::Duration};

use alloy::{
    eips::{BlockNumHash, eip7594::BlobTransactionSidecarEip7594},
    primitives::{Address, B256, Bytes},
};
use common::{
    backoff::Backoff,
    faults::{self, FaultPoint},
    health::Settlement,
    rpc::RpcEndpoint,
    secret::Secret,
    supervisor::{ChildLink, Handle, Subscriber},
    tx_manager::{BlobTx, TxManager, TxManagerConfig, journal::Journal},
    work::spawn_reporting,
};
use spawned_concurrency::tasks::{Actor, Context, Handler, send_after};
use tokio::{sync::watch, task::AbortHandle, time::Instant};

use crate::{
    batch_manager::protocol::{ProposalSettled, RewindL2},
    bridge::{
        config::CrossChainContracts,
        l1_calls::{L1Call, L2Route},
        status::{StatusStore, UserOpStatus},
    },
    config::prover::ProverConfig,
    metrics,
    proposal_store::{ProposalRecord, ProposalStore},
    propose_tx,
    prover::Prover,
};
use protocol::{GapChecked, Pump, SendDone, Start, Started, Submit};
use recovery::RecoveryInput;
use rules::{Resync, ResyncStep};
use settle::Fate;

/// What the submitter needs.
#[derive(Clone)]
pub struct SubmitterSetup {
    /// L1 reads and the proposer's txs.
    pub l1: RpcEndpoint,
    /// Further L1 endpoints the proposer's txs are also published to.
    pub l1_backups: Vec<RpcEndpoint>,
    /// L2 reads.
    pub l2: RpcEndpoint,
    /// The RealTimeInbox.
    pub inbox: Address,
    /// The prover actor.
    pub prover_actor: Handle<Prover>,
    /// Proof settings.
    pub prover: ProverConfig,
    /// Unlanded proposals.
    pub store: ProposalStore,
    /// The L1 tx journal.
    pub journal: Journal,
    /// The proposer key.
    pub signer: Secret<alloy::signers::local::PrivateKeySigner>,
    /// Tx settings.
    pub tx: TxManagerConfig,
    /// Privacy-mode key.
    pub privacy_key: Option<Secret<[u8; 32]>>,
    /// Proposals proved at once.
    pub max_in_flight: usize,
    /// The batch manager, which owns the L2 head: rollbacks are asked of it.
    pub rewind: Subscriber<RewindL2>,
    /// The batch manager again: told when a sealed proposal landed or was abandoned.
    pub settled: Subscriber<ProposalSettled>,
    /// Retry delay of the start-up recovery.
    pub retry: Duration,
    /// User-op statuses.
    pub statuses: StatusStore,
    /// Cross-chain contracts, when user ops and L1 calls run.
    pub cross_chain: Option<CrossChainContracts>,
    /// Where the settled head is published.
    pub settlement: Arc<watch::Sender<Settlement>>,
}

/// A proposal proved and ready to send.
struct Proved {
    proof: Bytes,
    sidecar: BlobTransactionSidecarEip7594,
    /// L2→L1 messages to process on L1 after the propose.
    l1_calls: Vec<L1Call>,
}

enum Stage {
    /// Waiting for a proving slot.
    Queued,
    /// Payload, blobs and proof under way.
    Proving(AbortHandle),
    /// Proved; waits for its turn.
    Proved(Box<Proved>),
    /// Its tx is with the tx manager.
    Sending,
}

struct Job {
    record: ProposalRecord,
    stage: Stage,
    attempts: u32,
    queued_at: Instant,
}

/// Facts that hold once recovery succeeded.
struct Running {
    /// Lent to the send task while a tx is in flight.
    manager: Option<TxManager>,
    basefee_sharing_pctg: u8,
    /// Where L2→L1 messages come from (with cross-chain contracts).
    l2_route: Option<L2Route>,
}

/// Proposals between sealing and landing.
pub struct AsyncSubmitter {
    setup: SubmitterSetup,
    link: ChildLink,
    running: Option<Running>,
    retry: Backoff,
    jobs: VecDeque<Job>,
    /// Submits that arrived during recovery.
    early: Vec<ProposalRecord>,
    /// The inbox head as we know it.
    landed: BlockNumHash,
    /// Landed txs that an L1 reorg could take back: (tx hash, checkpoint hash).
    recent: VecDeque<(B256, B256)>,
    /// Where a resync with the inbox's head stands.
    resync: Resync,
}

/// Proposals kept for L1-reorg detection.
const RECENT: usize = 64;

impl AsyncSubmitter {
    /// A submitter reporting to its supervisor through `link`.
    pub fn new(setup: SubmitterSetup, link: ChildLink) -> Self {
        Self {
            retry: Backoff::new(setup.retry, Duration::from_secs(30).max(setup.retry)),
            setup,
            link,
            running: None,
            jobs: VecDeque::new(),
            early: Vec::new(),
            landed: BlockNumHash::default(),
            recent: VecDeque::new(),
            resync: Resync::No,
        }
    }

    /// Records the inbox's head and publishes it as the settled head.
    fn set_landed(&mut self, landed: BlockNumHash) {
        self.landed = landed;
        self.setup
            .settlement
            .send_modify(|s| s.settled_head = Some(landed.number));
    }

    /// The block the next proposal must build on.
    fn tip(&self) -> BlockNumHash {
        self.jobs.back().map_or(self.landed, |j| BlockNumHash {
            number: j.record.checkpoint.number,
            hash: j.record.checkpoint.hash,
        })
    }
}

impl Handler<Pump> for AsyncSubmitter {
    async fn handle(&mut self, _: Pump, ctx: &Context<Self>) {
        self.pump(ctx);
    }
}

impl Actor for AsyncSubmitter {
    async fn started(&mut self, ctx: &Context<Self>) {
        self.link.attach();
        let _ = ctx.send(Start);
    }
}

impl Handler<Start> for AsyncSubmitter {
    async fn handle(&mut self, _: Start, ctx: &Context<Self>) {
        let setup = self.setup.clone();
        let work = async move {
            recovery::recover(RecoveryInput {
                l1: &setup.l1,
                l1_backups: &setup.l1_backups,
                l2: &setup.l2,
                inbox: setup.inbox,
                store: &setup.store,
                statuses: &setup.statuses,
                journal: setup.journal.clone(),
                signer: setup.signer.expose().clone(),
                tx: setup.tx,
                settled: setup.settled.clone(),
            })
            .await
        };
        spawn_reporting(ctx.clone(), work, Started);
    }
}

impl Handler<Started> for AsyncSubmitter {
    async fn handle(&mut self, Started(outcome): Started, ctx: &Context<Self>) {
        // Typed up to here; the log line is where they become words.
        let outcome = outcome.map_err(|panic| panic.to_string());
        let recovered = match outcome.and_then(|r| r.map_err(|e| e.to_string())) {
            Ok(r) => r,
            Err(error) => {
                let delay = self.retry.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64,
                    "submitter cannot start yet; retrying");
                send_after(delay, ctx.clone(), Start);
                return;
            }
        };
        self.set_landed(recovered.landed);
        self.running = Some(Running {
            l2_route: self.setup.cross_chain.map(|c| L2Route {
                bridge: c.l2_bridge,
                signal_service: c.l2_signal_service,
                l2_chain_id: recovered.l2_chain_id,
                l1_chain_id: recovered.manager.chain_id(),
            }),
            manager: Some(recovered.manager),
            basefee_sharing_pctg: recovered.basefee_sharing_pctg,
        });
        for record in recovered.queue {
            self.enqueue(record);
        }
        for record in std::mem::take(&mut self.early) {
            self.accept(record, ctx);
        }
        self.pump(ctx);
    }
}

impl Handler<Submit> for AsyncSubmitter {
    async fn handle(&mut self, Submit(record): Submit, ctx: &Context<Self>) {
        if self.running.is_none() {
            self.early.push(record);
            return;
        }
        self.accept(record, ctx);
        self.pump(ctx);
    }
}

impl AsyncSubmitter {
    fn enqueue(&mut self, record: ProposalRecord) {
        tracing::info!(proposal = %record.id, first = record.first_block, last = record.checkpoint.number,
            "proposal queued for proving");
        self.jobs.push_back(Job {
            record,
            stage: Stage::Queued,
            attempts: 0,
            queued_at: Instant::now(),
        });
        self.show_in_flight();
    }

    /// Queues a proposal that continues the tip; drops one that does not.
    fn accept(&mut self, record: ProposalRecord, ctx: &Context<Self>) {
        if self.jobs.iter().any(|j| j.record.id >= record.id) {
            return; // recovery already loaded it from the store
        }
        if self.resync != Resync::No {
            // Built on blocks the coming reorg removes.
            tracing::warn!(proposal = %record.id, "sealed during a resync with the inbox; dropped");
            self.forget(
                &record,
                "its L2 block was reorged away while the node resynced with L1",
                Fate::Retry,
            );
            return;
        }
        let tip = self.tip();
        if record.parent_hash == tip.hash && record.first_block == tip.number + 1 {
            self.enqueue(record);
            return;
        }
        tracing::warn!(proposal = %record.id, first = record.first_block, parent = %record.parent_hash,
            tip = tip.number, tip_hash = %tip.hash,
            "sealed proposal does not continue the last one; dropped");
        metrics::submitter()
            .proposals_failed
            .with_label_values(&["not_continuous"])
            .inc();
        self.forget(
            &record,
            "its proposal did not continue the previous one and was dropped",
            Fate::Retry,
        );
        // Its blocks are on L2 only if it was sealed after blocks that nobody proposes (a gap):
        // then the L2 must go back to the tip. A proposal sealed before our own reorg is
        // simply stale.
        let l2 = self.setup.l2.clone();
        let check = async move {
            async {
                let provider = l2.connect().await.ok()?;
                let parent = l2
                    .call(alloy::providers::Provider::get_block_by_number(
                        &provider,
                        (record.first_block.saturating_sub(1)).into(),
                    ))
                    .await
                    .ok()??;
                (parent.header.hash == record.parent_hash).then_some(tip.number)
            }
            .await
        };
        spawn_reporting(ctx.clone(), check, |reorg_to| GapChecked { reorg_to });
    }

    fn show_in_flight(&self) {
        let proving = self
            .jobs
            .iter()
            .filter(|j| {
                matches!(
                    j.stage,
                    Stage::Proving(_) | Stage::Proved(_) | Stage::Sending
                )
            })
            .count();
        metrics::submitter()
            .in_flight
            .set(i64::try_from(proving).unwrap_or(i64::MAX));
    }

    /// Starts proofs while there is room, and sends the oldest proposal once it is proved.
    fn pump(&mut self, ctx: &Context<Self>) {
        let Some(running) = &self.running else {
            return;
        };
        let sending = self.jobs.iter().any(|j| matches!(j.stage, Stage::Sending));
        match rules::resync_step(self.resync, sending) {
            ResyncStep::Proceed => {}
            ResyncStep::Start => return self.start_resync(ctx),
            ResyncStep::Wait => return,
        }
        let pctg = running.basefee_sharing_pctg;
        let mut busy = self
            .jobs
            .iter()
            .filter(|j| !matches!(j.stage, Stage::Queued))
            .count();
        let mut parent = self.landed.hash;
        for i in 0..self.jobs.len() {
            if busy >= self.setup.max_in_flight {
                break;
            }
            let job = &self.jobs[i];
            let this_parent = parent;
            parent = job.record.checkpoint.hash;
            if !matches!(job.stage, Stage::Queued) {
                continue;
            }
            let handle = self.spawn_proof(&self.jobs[i].record, this_parent, pctg, ctx);
            let job = &mut self.jobs[i];
            job.attempts += 1;
            job.stage = Stage::Proving(handle);
            busy += 1;
        }
        self.show_in_flight();
        let front_ready = matches!(self.jobs.front().map(|j| &j.stage), Some(Stage::Proved(_)));
        if !front_ready {
            return;
        }
        let Some(manager) = self.running.as_mut().and_then(|r| r.manager.take()) else {
            return;
        };
        let Some(front) = self.jobs.front_mut() else {
            return;
        };
        let Stage::Proved(proved) = std::mem::replace(&mut front.stage, Stage::Sending) else {
            return;
        };
        let record = front.record.clone();
        let record_id = record.id;
        let sealed_at = front.queued_at;
        let flag = self.setup.prover.flag;
        let inbox = self.setup.inbox;
        let cross_chain = self.setup.cross_chain;
        let statuses = self.setup.statuses.clone();
        let send = async move {
            faults::reach(FaultPoint::ProposalSend);
            let mut manager = manager;
            let Proved {
                proof,
                sidecar,
                l1_calls,
            } = *proved;
            let blobs = sidecar.blobs.len();
            let propose = propose_tx::propose_calldata(&record, blobs, proof, flag);
            let (to, input) =
                propose_tx::proposal_call(inbox, cross_chain.as_ref(), &record, propose, &l1_calls);
            let outcome = match manager
                .prepare(BlobTx {
                    to,
                    input,
                    sidecar,
                    proposal: record.id,
                })
                .await
            {
                Ok(prepared) => {
                    statuses.set_soon(
                        &record.status_keys(),
                        UserOpStatus::Processing {
                            tx_hash: prepared.hash(),
                        },
                    );
                    manager.publish(prepared).await
                }
                Err(e) => Err(e),
            };
            (manager, outcome)
        };
        let id = record_id;
        spawn_reporting(ctx.clone(), send, move |outcome| SendDone {
            id,
            outcome,
            sealed_at,
        });
    }
}
