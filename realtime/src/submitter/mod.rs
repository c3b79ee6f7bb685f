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
//! one and reorgs the L2 back to N's parent, the inbox's head; the BatchManager notices its head
//! moved back and builds from there. The abandoned proposals' user ops and tracked txs go back
//! to Pending for a later block unless the failure was theirs ([`settle`]). An L1 reorg that
//! removes a landed proposal does the same from the inbox head re-read.

mod prove;
mod recovery;
mod settle;

use std::{collections::VecDeque, sync::Arc, time::Duration};

use alloy::{
    eips::eip7594::BlobTransactionSidecarEip7594,
    primitives::{Address, B256, Bytes},
};
use common::{
    backoff::Backoff,
    driver::DriverClient,
    faults::{self, FaultPoint},
    health::Settlement,
    ids::ProposalId,
    rpc::RpcEndpoint,
    secret::Secret,
    supervisor::{ChildLink, Handle},
    tx_manager::{BlobTx, Included, TxError, TxManager, TxManagerConfig, journal::Journal},
    work::{Outcome, spawn_reporting},
};
use spawned_concurrency::{
    message::Message,
    tasks::{Actor, Context, Handler, send_after},
};
use tokio::{
    sync::{broadcast, watch},
    task::AbortHandle,
    time::Instant,
};

use crate::{
    bridge::{
        config::CrossChainContracts,
        l1_calls::{L1Call, L2Route},
        status::{StatusStore, UserOpStatus},
    },
    chain_monitor::ChainEvent,
    config::ProverConfig,
    landed_proposals::ProposalEvent,
    metrics,
    proposal_store::{ProposalRecord, ProposalStore},
    propose_tx,
    prover::Prover,
};
use prove::{ProofFailure, ProofSettings, find_l1_calls, prove};
use recovery::{Recovered, RecoveryInput};
use settle::{Fate, check_landed};

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
    /// L2 reorgs.
    pub driver: DriverClient,
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
    /// Chain events (L1 reorgs of landed proposals).
    pub chain_events: broadcast::Sender<ChainEvent>,
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
    /// The inbox head as we know it: (L2 number, hash).
    landed: (u64, B256),
    /// Landed txs that an L1 reorg could take back: (tx hash, checkpoint hash).
    recent: VecDeque<(B256, B256)>,
    /// Where a resync with the inbox's head stands.
    resync: Resync,
}

/// A resync: after a failure or an L1 reorg, what landed is re-read from the inbox and the L2
/// reorged back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resync {
    /// In step with the inbox.
    No,
    /// Due once no tx is in flight.
    Wanted,
    /// The inbox head is being read.
    Reading,
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
            landed: (0, B256::ZERO),
            recent: VecDeque::new(),
            resync: Resync::No,
        }
    }

    /// Records the inbox's head and publishes it as the settled head.
    fn set_landed(&mut self, landed: (u64, B256)) {
        self.landed = landed;
        self.setup
            .settlement
            .send_modify(|s| s.settled_head = Some(landed.0));
    }

    /// The hash and number the next proposal must build on.
    fn tip(&self) -> (u64, B256) {
        self.jobs.back().map_or(self.landed, |j| {
            (j.record.checkpoint.number, j.record.checkpoint.hash)
        })
    }
}

/// A sealed proposal to prove and propose (already in the proposal store).
pub struct Submit(pub ProposalRecord);
impl Message for Submit {
    type Result = ();
}

#[derive(Clone)]
struct Start;
impl Message for Start {
    type Result = ();
}

struct Started(Outcome<Result<Recovered, String>>);
impl Message for Started {
    type Result = ();
}

struct ProofDone {
    id: ProposalId,
    attempt: u32,
    outcome: Result<Proved, ProofFailure>,
    took: Duration,
}
impl Message for ProofDone {
    type Result = ();
}

struct SendDone {
    id: ProposalId,
    /// The lent tx manager comes back with the tx's outcome (not after a panic: then the
    /// actor fails and its successor starts from the journal).
    outcome: Outcome<(TxManager, Result<Included, TxError>)>,
    sealed_at: Instant,
}
impl Message for SendDone {
    type Result = ();
}

struct Chain(ChainEvent);
impl Message for Chain {
    type Result = ();
}

struct GapChecked {
    reorg_to: Outcome<Option<u64>>,
}
impl Message for GapChecked {
    type Result = ();
}

#[derive(Clone)]
struct Pump;
impl Message for Pump {
    type Result = ();
}

impl Handler<Pump> for AsyncSubmitter {
    async fn handle(&mut self, _: Pump, ctx: &Context<Self>) {
        self.pump(ctx);
    }
}

struct Resynced(Outcome<Result<(u64, B256), String>>);

/// The chain-event subscription ended (the node is stopping) or its task panicked.
struct EventsEnded(Outcome<()>);
impl Message for EventsEnded {
    type Result = ();
}

/// Chain events were dropped because this actor fell behind: one may have been an L1 reorg of
/// a landed proposal.
struct EventsLagged(u64);
impl Message for EventsLagged {
    type Result = ();
}
impl Message for Resynced {
    type Result = ();
}

impl Actor for AsyncSubmitter {
    async fn started(&mut self, ctx: &Context<Self>) {
        self.link.attach();
        let mut events = self.setup.chain_events.subscribe();
        let forward = ctx.clone();
        let listen = async move {
            loop {
                let sent = match events.recv().await {
                    Ok(event @ ChainEvent::Proposal(ProposalEvent::Reorged(_))) => {
                        forward.send(Chain(event))
                    }
                    Ok(_) => Ok(()),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        forward.send(EventsLagged(missed))
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                if sent.is_err() {
                    break;
                }
            }
        };
        spawn_reporting(ctx.clone(), listen, EventsEnded);
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
            })
            .await
        };
        spawn_reporting(ctx.clone(), work, Started);
    }
}

impl Handler<Started> for AsyncSubmitter {
    async fn handle(&mut self, Started(outcome): Started, ctx: &Context<Self>) {
        let recovered = match outcome.map_err(|panic| panic.to_string()).and_then(|r| r) {
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
        if record.parent_hash == tip.1 && record.first_block == tip.0 + 1 {
            self.enqueue(record);
            return;
        }
        tracing::warn!(proposal = %record.id, first = record.first_block, parent = %record.parent_hash,
            tip = tip.0, tip_hash = %tip.1,
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
                (parent.header.hash == record.parent_hash).then_some(tip.0)
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
        match self.resync {
            Resync::No => {}
            Resync::Wanted => {
                if !self.jobs.iter().any(|j| matches!(j.stage, Stage::Sending)) {
                    self.start_resync(ctx);
                }
                return;
            }
            Resync::Reading => return,
        }
        let pctg = running.basefee_sharing_pctg;
        let mut busy = self
            .jobs
            .iter()
            .filter(|j| !matches!(j.stage, Stage::Queued))
            .count();
        let mut parent = self.landed.1;
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

    fn spawn_proof(
        &self,
        record: &ProposalRecord,
        last_finalized: B256,
        basefee_sharing_pctg: u8,
        ctx: &Context<Self>,
    ) -> AbortHandle {
        let record = record.clone();
        let prover = self.setup.prover_actor.clone();
        let l2 = self.setup.l2.clone();
        let l2_route = self.running.as_ref().and_then(|r| r.l2_route);
        let settings = ProofSettings {
            proof_type: self.setup.prover.proof_type,
            basefee_sharing_pctg,
            key: self.setup.privacy_key.as_ref().map(|k| *k.expose()),
            use_cache: self.setup.prover.use_cache,
        };
        let attempt = self
            .jobs
            .iter()
            .find(|j| j.record.id == record.id)
            .map_or(1, |j| j.attempts + 1);
        let id = record.id;
        let started = Instant::now();
        let work = async move {
            tokio::try_join!(
                prove(&prover, &l2, &record, last_finalized, &settings),
                find_l1_calls(&l2, l2_route, &record)
            )
            .map(|((proof, sidecar), l1_calls)| Proved {
                proof,
                sidecar,
                l1_calls,
            })
        };
        spawn_reporting(ctx.clone(), work, move |outcome| ProofDone {
            id,
            attempt,
            outcome: outcome.map_err(ProofFailure::from).and_then(|o| o),
            took: started.elapsed(),
        })
    }
}

impl Handler<ProofDone> for AsyncSubmitter {
    async fn handle(&mut self, done: ProofDone, ctx: &Context<Self>) {
        let Some(index) = self.jobs.iter().position(|j| j.record.id == done.id) else {
            return; // abandoned meanwhile
        };
        if self.jobs[index].attempts != done.attempt {
            return;
        }
        let attempts = self.jobs[index].attempts;
        match done.outcome {
            Ok(proved) => {
                tracing::info!(proposal = %done.id, took_ms = done.took.as_millis() as u64,
                    blobs = proved.sidecar.blobs.len(), "proposal proved");
                self.jobs[index].stage = Stage::Proved(Box::new(proved));
            }
            Err(error) => {
                metrics::submitter()
                    .proof_failures
                    .with_label_values(&[error.label()])
                    .inc();
                if !error.counts() {
                    tracing::warn!(proposal = %done.id, %error, "proving paused; trying again");
                    let job = &mut self.jobs[index];
                    job.attempts = job.attempts.saturating_sub(1);
                    job.stage = Stage::Queued;
                    send_after(self.setup.retry, ctx.clone(), Pump);
                    return;
                }
                if attempts < self.setup.prover.attempts {
                    tracing::warn!(proposal = %done.id, attempt = attempts, %error, "proof failed; requesting it again");
                    self.jobs[index].stage = Stage::Queued;
                } else {
                    let why = error.to_string();
                    self.abandon_from(index, ("proof", &why), Fate::Retry, ctx);
                }
            }
        }
        self.pump(ctx);
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
        // Only a tx that an L1 reorg left behind a nonce gap can still be mined later: its
        // ops may yet run, so they are not tried again. A revert that names an op's or a
        // tx's signal slot is that one's own failure.
        let fate = match &result {
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
        };
        let outcome = match result {
            Ok(included) => check_landed(&record, &included),
            Err(e) => Err(match &e {
                TxError::WouldRevert(m) => ("would_revert", propose_tx::explain_revert(m)),
                TxError::Reverted { .. } => ("reverted", e.to_string()),
                TxError::InsufficientFunds { .. } => ("insufficient_funds", e.to_string()),
                TxError::Fees(_) => ("fee_cap", e.to_string()),
                _ => ("tx", e.to_string()),
            }),
        };
        match outcome {
            Ok(tx_hash) => {
                let m = metrics::submitter();
                m.proposals_landed.inc();
                m.sealed_to_landed_seconds
                    .observe(done.sealed_at.elapsed().as_secs_f64());
                let now_ms = common::fork::unix_now_ms();
                for at in &record.preconfirmed_at_ms {
                    m.block_settlement_seconds
                        .observe(now_ms.saturating_sub(*at) as f64 / 1_000.0);
                }
                tracing::info!(proposal = %record.id, %tx_hash, checkpoint = record.checkpoint.number,
                    checkpoint_hash = %record.checkpoint.hash, last_finalized = %record.parent_hash,
                    "proposal landed on L1");
                self.jobs.remove(index);
                self.set_landed((record.checkpoint.number, record.checkpoint.hash));
                self.recent.push_back((tx_hash, record.checkpoint.hash));
                if self.recent.len() > RECENT {
                    self.recent.pop_front();
                }
                self.forget_landed(record, ctx);
            }
            Err((cause, why)) => self.abandon_from(index, (cause, &why), fate, ctx),
        }
        self.pump(ctx);
    }
}
