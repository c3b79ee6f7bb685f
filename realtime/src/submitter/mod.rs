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
//! moved back and builds from there. An L1 reorg that removes a landed proposal does the same
//! from the inbox head re-read.

mod recovery;

use std::{collections::VecDeque, sync::Arc, time::Duration};

use alloy::{
    eips::eip7594::BlobTransactionSidecarEip7594,
    primitives::{Address, B256, Bytes},
    sol_types::SolEvent,
};
use bindings::IRealTimeInbox::ProposedAndProved;
use common::{
    backoff::Backoff,
    codec::{blob, privacy},
    driver::DriverClient,
    ids::ProposalId,
    rpc::RpcEndpoint,
    secret::Secret,
    sidecar,
    supervisor::ChildLink,
    tx_manager::{BlobTx, Included, TxError, TxManager, TxManagerConfig, journal::Journal},
};
use spawned_concurrency::{
    message::Message,
    tasks::{Actor, Context, Handler, send_after},
};
use tokio::{sync::broadcast, task::AbortHandle, time::Instant};

use crate::{
    bridge::{
        config::CrossChainContracts,
        l1_calls::{self, L1Call, L2Route},
        status::{StatusKey, StatusStore, UserOpStatus},
        tx_outcome,
    },
    chain_monitor::ChainEvent,
    config::{ProofType, ProverConfig},
    landed_proposals::ProposalEvent,
    metrics,
    proposal_store::{ProposalRecord, ProposalStore},
    propose_tx,
    raiko::{BlobSliceJson, CheckpointJson, ProofError, ProofRequest, RaikoClient, SourceJson},
};
use recovery::{Recovered, RecoveryInput};

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
    /// The prover.
    pub raiko: RaikoClient,
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

/// What happens to the ops and tracked txs of a proposal that will not land.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
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

struct Started(Result<Recovered, String>);
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

#[derive(Debug, thiserror::Error)]
enum ProofFailure {
    #[error(transparent)]
    Raiko(#[from] ProofError),
    #[error("blob payload: {0}")]
    Payload(String),
    #[error("L1 calls of L2→L1 messages: {0}")]
    L1Calls(String),
}

impl ProofFailure {
    fn label(&self) -> &'static str {
        match self {
            ProofFailure::Raiko(e) => e.label(),
            ProofFailure::Payload(_) => "payload",
            ProofFailure::L1Calls(_) => "l1_calls",
        }
    }
}

struct SendDone {
    id: ProposalId,
    manager: TxManager,
    outcome: Result<Included, TxError>,
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
    reorg_to: Option<u64>,
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

struct Resynced(Result<(u64, B256), String>);
impl Message for Resynced {
    type Result = ();
}

impl Actor for AsyncSubmitter {
    async fn started(&mut self, ctx: &Context<Self>) {
        self.link.attach();
        let mut events = self.setup.chain_events.subscribe();
        let forward = ctx.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event @ ChainEvent::Proposal(ProposalEvent::Reorged(_))) => {
                        if forward.send(Chain(event)).is_err() {
                            break;
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let _ = ctx.send(Start);
    }
}

impl Handler<Start> for AsyncSubmitter {
    async fn handle(&mut self, _: Start, ctx: &Context<Self>) {
        let setup = self.setup.clone();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let outcome = recovery::recover(RecoveryInput {
                l1: &setup.l1,
                l1_backups: &setup.l1_backups,
                l2: &setup.l2,
                inbox: setup.inbox,
                store: &setup.store,
                statuses: &setup.statuses,
                journal: setup.journal.clone(),
                signer: setup.signer.expose().clone(),
                tx: setup.tx,
                driver: &setup.driver,
            })
            .await;
            let _ = ctx.send(Started(outcome));
        });
    }
}

impl Handler<Started> for AsyncSubmitter {
    async fn handle(&mut self, Started(outcome): Started, ctx: &Context<Self>) {
        let recovered = match outcome {
            Ok(r) => r,
            Err(error) => {
                let delay = self.retry.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64,
                    "submitter cannot start yet; retrying");
                send_after(delay, ctx.clone(), Start);
                return;
            }
        };
        self.landed = recovered.landed;
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
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let reorg_to = async {
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
            .await;
            let _ = ctx.send(GapChecked { reorg_to });
        });
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
        let sealed_at = front.queued_at;
        let flag = self.setup.prover.flag;
        let inbox = self.setup.inbox;
        let cross_chain = self.setup.cross_chain;
        let statuses = self.setup.statuses.clone();
        let ctx = ctx.clone();
        tokio::spawn(async move {
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
            let _ = ctx.send(SendDone {
                id: record.id,
                manager,
                outcome,
                sealed_at,
            });
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
        let raiko = self.setup.raiko.clone();
        let l2 = self.setup.l2.clone();
        let l2_route = self.running.as_ref().and_then(|r| r.l2_route);
        let proof_type = self.setup.prover.proof_type;
        let key = self.setup.privacy_key.as_ref().map(|k| *k.expose());
        let ctx = ctx.clone();
        let attempt = self
            .jobs
            .iter()
            .find(|j| j.record.id == record.id)
            .map_or(1, |j| j.attempts + 1);
        tokio::spawn(async move {
            let started = Instant::now();
            let (proved, l1_calls) = tokio::join!(
                prove(
                    &raiko,
                    proof_type,
                    &record,
                    last_finalized,
                    basefee_sharing_pctg,
                    key,
                ),
                find_l1_calls(&l2, l2_route, &record)
            );
            let outcome = match (proved, l1_calls) {
                (Ok((proof, sidecar)), Ok(l1_calls)) => Ok(Proved {
                    proof,
                    sidecar,
                    l1_calls,
                }),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            let _ = ctx.send(ProofDone {
                id: record.id,
                attempt,
                outcome,
                took: started.elapsed(),
            });
        })
        .abort_handle()
    }

    /// Abandons job `index` and every later one. Once no tx is in flight, the inbox's head is
    /// re-read and the L2 reorged back to it: the inbox, not our bookkeeping, says what landed
    /// (a tx from before a restart may land late, an L1 reorg may take one back).
    /// `first` is the fate of job `index`'s ops (later jobs never sent a tx: retried).
    fn abandon_from(
        &mut self,
        index: usize,
        (cause, why): (&'static str, &str),
        first: Fate,
        ctx: &Context<Self>,
    ) {
        let abandoned: Vec<Job> = self.jobs.drain(index..).collect();
        for (n, job) in abandoned.iter().enumerate() {
            if let Stage::Proving(handle) = &job.stage {
                handle.abort();
            }
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
    fn forget(&self, record: &ProposalRecord, why: &str, fate: Fate) {
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
    }

    fn spawn_reorg(&self, to: u64) {
        let driver = self.setup.driver.clone();
        tokio::spawn(async move {
            match driver.reorg_stale_block(to).await {
                Ok(outcome) => tracing::info!(to, removed = outcome.blocks_removed,
                    new_head = %outcome.new_head_block_hash, "L2 reorged for recovery"),
                Err(e) => tracing::error!(to, error = %e,
                    "L2 reorg for recovery failed; the next proposal will not continue and triggers it again"),
            }
        });
    }

    fn start_resync(&mut self, ctx: &Context<Self>) {
        self.resync = Resync::Reading;
        if let Some(manager) = self.running.as_mut().and_then(|r| r.manager.as_mut()) {
            manager.forget_nonce();
        }
        for job in std::mem::take(&mut self.jobs) {
            if let Stage::Proving(handle) = &job.stage {
                handle.abort();
            }
            self.forget(
                &job.record,
                "its proposal was dropped when the node resynced with the inbox on L1",
                Fate::Retry,
            );
        }
        let setup = self.setup.clone();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let head = async {
                let l1p = setup.l1.connect().await.map_err(|e| e.to_string())?;
                let l2p = setup.l2.connect().await.map_err(|e| e.to_string())?;
                recovery::inbox_head(&setup.l1, &l1p, &setup.l2, &l2p, setup.inbox).await
            }
            .await;
            let _ = ctx.send(Resynced(head));
        });
    }
}

/// Payload → blobs → versioned hashes → (proof ‖ cell proofs).
async fn prove(
    raiko: &RaikoClient,
    proof_type: ProofType,
    record: &ProposalRecord,
    last_finalized: B256,
    basefee_sharing_pctg: u8,
    key: Option<[u8; 32]>,
) -> Result<(Bytes, BlobTransactionSidecarEip7594), ProofFailure> {
    let payload = match key {
        Some(key) => privacy::encrypt(&record.payload, &key)
            .map_err(|e| ProofFailure::Payload(e.to_string()))?,
        None => record.payload.to_vec(),
    };
    let blobs = Arc::new(blob::encode(&payload));
    let commitments = sidecar::commitments(blobs.clone())
        .await
        .map_err(|e| ProofFailure::Payload(e.to_string()))?;
    let hashes = sidecar::versioned_hashes(&commitments);
    let request = ProofRequest {
        l2_block_numbers: record.block_numbers(),
        proof_type: proof_type.name(),
        max_anchor_block_number: record.anchor,
        last_finalized_block_hash: last_finalized,
        basefee_sharing_pctg,
        signal_slots: record.signal_slots.iter().map(|s| s.0).collect(),
        sources: vec![SourceJson {
            is_forced_inclusion: false,
            blob_slice: BlobSliceJson {
                blob_hashes: hashes,
                offset: 0,
                timestamp: 0,
            },
        }],
        blobs: &blobs,
        checkpoint: CheckpointJson {
            block_number: record.checkpoint.number,
            block_hash: record.checkpoint.hash,
            state_root: record.checkpoint.state_root,
        },
        blob_proof_type: "proof_of_equivalence",
    };
    let (proof, sidecar) = tokio::join!(
        raiko.prove(&request),
        sidecar::build_with_commitments(blobs.clone(), Some(commitments.clone()))
    );
    let proof = proof?;
    let sidecar = sidecar.map_err(|e| ProofFailure::Payload(e.to_string()))?;
    Ok((proof, sidecar))
}

/// The L1 calls of a proposal, found while it is proved (its blocks no longer change).
async fn find_l1_calls(
    l2: &RpcEndpoint,
    route: Option<L2Route>,
    record: &ProposalRecord,
) -> Result<Vec<L1Call>, ProofFailure> {
    let Some(route) = route else {
        return Ok(Vec::new());
    };
    let provider = l2
        .connect()
        .await
        .map_err(|e| ProofFailure::L1Calls(e.to_string()))?;
    let calls = l1_calls::discover(l2, &provider, &route, record)
        .await
        .map_err(|e| ProofFailure::L1Calls(e.to_string()))?;
    if !calls.is_empty() {
        tracing::info!(proposal = %record.id, l1_calls = calls.len(),
            "L2→L1 messages of the proposal will be processed on L1 after its propose");
    }
    Ok(calls)
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
                metrics::submitter()
                    .proof_seconds
                    .observe(done.took.as_secs_f64());
                tracing::info!(proposal = %done.id, took_ms = done.took.as_millis() as u64,
                    blobs = proved.sidecar.blobs.len(), "proposal proved");
                self.jobs[index].stage = Stage::Proved(Box::new(proved));
            }
            Err(error) => {
                metrics::submitter()
                    .proof_failures
                    .with_label_values(&[error.label()])
                    .inc();
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
        if let Some(running) = self.running.as_mut() {
            running.manager = Some(done.manager);
        }
        let Some(index) = self.jobs.iter().position(|j| j.record.id == done.id) else {
            self.pump(ctx);
            return;
        };
        let record = self.jobs[index].record.clone();
        // Only a tx that an L1 reorg left behind a nonce gap can still be mined later: its
        // ops may yet run, so they are not tried again. A revert that names an op's or a
        // tx's signal slot is that one's own failure.
        let fate = match &done.outcome {
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
        let outcome = match done.outcome {
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
                tracing::info!(proposal = %record.id, %tx_hash, checkpoint = record.checkpoint.number,
                    checkpoint_hash = %record.checkpoint.hash, last_finalized = %record.parent_hash,
                    "proposal landed on L1");
                self.jobs.remove(index);
                self.landed = (record.checkpoint.number, record.checkpoint.hash);
                self.recent.push_back((tx_hash, record.checkpoint.hash));
                if self.recent.len() > RECENT {
                    self.recent.pop_front();
                }
                self.forget_landed(record);
            }
            Err((cause, why)) => self.abandon_from(index, (cause, &why), fate, ctx),
        }
        self.pump(ctx);
    }
}

impl AsyncSubmitter {
    /// Forgets a landed proposal once the final statuses of its user ops and tracked txs are
    /// on disk (so a crash in between leaves a stored proposal, never an op without a final
    /// status). The txs' statuses come from their L2 receipts, read until the L2 answers.
    fn forget_landed(&self, record: ProposalRecord) {
        let (store, statuses) = (self.setup.store.clone(), self.setup.statuses.clone());
        let (l2, retry) = (self.setup.l2.clone(), self.setup.retry);
        tokio::spawn(async move {
            let mut backoff = Backoff::new(retry, Duration::from_secs(30).max(retry));
            loop {
                let settled = async {
                    let provider = l2.connect().await.map_err(|e| e.to_string())?;
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
        });
    }
}

/// The landed tx's hash if its receipt shows the inbox took exactly this proposal.
fn check_landed(
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

impl Handler<Chain> for AsyncSubmitter {
    async fn handle(&mut self, Chain(event): Chain, ctx: &Context<Self>) {
        let ChainEvent::Proposal(ProposalEvent::Reorged(gone)) = event else {
            return;
        };
        if !self.recent.iter().any(|(tx, _)| *tx == gone.tx_hash) {
            return;
        }
        tracing::error!(tx = %gone.tx_hash, checkpoint = gone.checkpoint.0,
            "an L1 reorg took back a proposal of ours; resyncing with the inbox");
        self.recent.retain(|(tx, _)| *tx != gone.tx_hash);
        self.resync = Resync::Wanted;
        self.pump(ctx);
    }
}

impl Handler<GapChecked> for AsyncSubmitter {
    async fn handle(&mut self, checked: GapChecked, _: &Context<Self>) {
        if let Some(to) = checked.reorg_to {
            tracing::warn!(
                to,
                "L2 blocks after the last proposal will never be proposed; reorging them away"
            );
            self.spawn_reorg(to);
        }
    }
}

impl Handler<Resynced> for AsyncSubmitter {
    async fn handle(&mut self, Resynced(head): Resynced, ctx: &Context<Self>) {
        match head {
            Ok(head) => {
                tracing::info!(inbox_head = head.0, hash = %head.1, "resynced with the inbox");
                self.resync = Resync::No;
                self.landed = head;
                self.spawn_reorg(head.0);
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
