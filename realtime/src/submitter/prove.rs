//! Proving one proposal: the blob payload (encrypted in privacy mode), its blobs and versioned
//! hashes, the Raiko proof with the cell proofs computed alongside, and the L1 calls of its
//! L2→L1 messages (found while it is proved: its blocks no longer change).

use std::sync::Arc;

use alloy::providers::Provider;
use common::{supervisor::Handle, work::spawn_reporting};
use spawned_concurrency::tasks::{Context, Handler, send_after};
use tokio::{task::AbortHandle, time::Instant};

use alloy::{
    eips::{eip4844::Blob, eip7594::BlobTransactionSidecarEip7594},
    primitives::{B256, Bytes},
};
use common::{
    codec::{blob, privacy},
    rpc::RpcEndpoint,
    sidecar,
};

use super::{
    AsyncSubmitter, Proved, Stage,
    protocol::{ProofDone, ProofFailure, Pump},
    rules::{AfterProofFailure, after_proof_failure},
    settle::Fate,
};
use crate::{
    bridge::l1_calls::{self, L1Call, L2Route},
    config::prover::ProofType,
    metrics,
    proposal_store::ProposalRecord,
    prover::{
        AskError, Prover,
        wire::{BlobSliceJson, CheckpointJson, ProofError, ProofRequest, SourceJson},
    },
};

/// What a proof request needs besides the proposal.
pub(super) struct ProofSettings {
    /// The proof system.
    pub proof_type: ProofType,
    /// The inbox's basefee-sharing percentage.
    pub basefee_sharing_pctg: u8,
    /// Privacy-mode key.
    pub key: Option<[u8; 32]>,
    /// Raiko's `use_cache`.
    pub use_cache: bool,
}

/// Payload → blobs → versioned hashes → (proof from the Prover ‖ cell proofs).
pub(super) async fn prove(
    prover: &Handle<Prover>,
    l2: &RpcEndpoint,
    record: &ProposalRecord,
    last_finalized: B256,
    settings: &ProofSettings,
) -> Result<(Bytes, BlobTransactionSidecarEip7594), ProofFailure> {
    let payload = match settings.key {
        Some(key) => privacy::encrypt(&record.payload, &key)
            .map_err(|e| ProofFailure::Payload(e.to_string()))?,
        None => record.payload.to_vec(),
    };
    let blobs = Arc::new(blob::encode(&payload));
    let commitments = sidecar::commitments(blobs.clone())
        .await
        .map_err(|e| ProofFailure::Payload(e.to_string()))?;
    let hashes = sidecar::versioned_hashes(&commitments);
    let (mut sources, all_blobs) = if record.forced.is_empty() {
        (Vec::new(), blobs.clone())
    } else {
        // Blobs are 128 KiB each: gathered on a blocking thread, never by value on a task's
        // stack.
        let (forced, own) = (record.forced.clone(), blobs.clone());
        tokio::task::spawn_blocking(move || {
            let (sources, mut all) = forced_sources(&forced)?;
            for blob in own.iter() {
                all.push(Blob::ZERO);
                if let Some(last) = all.last_mut() {
                    last.copy_from_slice(blob.as_slice());
                }
            }
            Ok::<_, ProofFailure>((sources, Arc::new(all)))
        })
        .await
        .map_err(|e| ProofFailure::Payload(format!("gathering the proposal's blobs: {e}")))??
    };
    sources.push(SourceJson {
        is_forced_inclusion: false,
        blob_slice: BlobSliceJson {
            blob_hashes: hashes,
            offset: 0,
            timestamp: 0,
        },
    });
    let request = ProofRequest {
        l2_block_numbers: record.block_numbers(),
        l2_block_hashes: block_hashes(l2, record).await?,
        proof_type: settings.proof_type.name(),
        max_anchor_block_number: record.anchor,
        last_finalized_block_hash: last_finalized,
        basefee_sharing_pctg: settings.basefee_sharing_pctg,
        signal_slots: record.signal_slots.iter().map(|s| s.0).collect(),
        sources,
        blobs: all_blobs,
        checkpoint: CheckpointJson {
            block_number: record.checkpoint.number,
            block_hash: record.checkpoint.hash,
            state_root: record.checkpoint.state_root,
        },
        blob_proof_type: "proof_of_equivalence",
        use_cache: settings.use_cache,
    };
    // A failed proof ends the attempt at once, without waiting for the cell proofs.
    tokio::try_join!(ask(prover, record, &request), async {
        sidecar::build_with_commitments(blobs, Some(commitments))
            .await
            .map_err(|e| ProofFailure::Payload(e.to_string()))
    })
}

/// The sources and blobs of the forced inclusions the proposal consumes, as the inbox will
/// hash them (their stored slice, save time included) and Raiko reads them (their blobs first).
fn forced_sources(
    forced: &[crate::forced_inclusion::ForcedSource],
) -> Result<(Vec<SourceJson>, Vec<Blob>), ProofFailure> {
    let mut sources = Vec::with_capacity(forced.len());
    let mut blobs: Vec<Blob> = Vec::with_capacity(forced.len());
    for f in forced {
        if f.blob.len() != Blob::len_bytes() {
            return Err(ProofFailure::Payload(format!(
                "forced inclusion {}: its stored blob has {} bytes",
                f.index,
                f.blob.len()
            )));
        }
        blobs.push(Blob::ZERO);
        if let Some(last) = blobs.last_mut() {
            last.copy_from_slice(&f.blob);
        }
        sources.push(SourceJson {
            is_forced_inclusion: true,
            blob_slice: BlobSliceJson {
                blob_hashes: vec![f.blob_hash],
                offset: f.offset,
                timestamp: f.saved_at,
            },
        });
    }
    Ok((sources, blobs))
}

/// The proposal's block hashes (Raiko's cache key), from the record or, for a record stored
/// before the node kept them, from the L2.
async fn block_hashes(
    l2: &RpcEndpoint,
    record: &ProposalRecord,
) -> Result<Vec<B256>, ProofFailure> {
    if record.block_hashes.len() == record.block_numbers().len() {
        return Ok(record.block_hashes.clone());
    }
    let read = |e: &dyn std::fmt::Display| {
        ProofFailure::L2Unavailable(format!("reading its block hashes: {e}"))
    };
    let provider = l2.connect().await.map_err(|e| read(&e))?;
    let mut hashes = Vec::new();
    for number in record.block_numbers() {
        let block = l2
            .call(provider.get_block_by_number(number.into()))
            .await
            .map_err(|e| read(&e))?
            .ok_or_else(|| read(&format!("L2 block {number} is missing")))?;
        hashes.push(block.header.hash);
    }
    Ok(hashes)
}

/// Asks the Prover for the proof of `record` (see [`crate::prover::ask`]).
async fn ask(
    prover: &Handle<Prover>,
    record: &ProposalRecord,
    request: &ProofRequest,
) -> Result<Bytes, ProofFailure> {
    let encode = |e: serde_json::Error| ProofFailure::Raiko(ProofError::Encode(e.to_string()));
    let (full, poll) = (
        request.full_body().map_err(encode)?,
        request.poll_body().map_err(encode)?,
    );
    crate::prover::ask(prover, record.id, full, poll)
        .await
        .map_err(|e| match e {
            AskError::Proof(e) => ProofFailure::Raiko(e),
            AskError::Gone(why) => ProofFailure::ProverGone(why),
        })
}

/// The L1 calls of a proposal, found while it is proved (its blocks no longer change).
pub(super) async fn find_l1_calls(
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
        .map_err(|e| ProofFailure::L2Unavailable(e.to_string()))?;
    let calls = l1_calls::discover(l2, &provider, &route, record)
        .await
        .map_err(|e| match e {
            l1_calls::L1CallError::Rpc(e) => ProofFailure::L2Unavailable(e.to_string()),
            other => ProofFailure::L1Calls(other.to_string()),
        })?;
    if !calls.is_empty() {
        tracing::info!(proposal = %record.id, l1_calls = calls.len(),
            "L2→L1 messages of the proposal will be processed on L1 after its propose");
    }
    Ok(calls)
}

impl AsyncSubmitter {
    pub(super) fn spawn_proof(
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
                match after_proof_failure(attempts, self.setup.prover.attempts, error.counts()) {
                    AfterProofFailure::Pause => {
                        tracing::warn!(proposal = %done.id, %error, "proving paused; trying again");
                        let job = &mut self.jobs[index];
                        job.attempts = job.attempts.saturating_sub(1);
                        job.stage = Stage::Queued;
                        send_after(self.setup.retry, ctx.clone(), Pump);
                        return;
                    }
                    AfterProofFailure::Again => {
                        tracing::warn!(proposal = %done.id, attempt = attempts, %error, "proof failed; requesting it again");
                        self.jobs[index].stage = Stage::Queued;
                    }
                    AfterProofFailure::Abandon => {
                        let why = error.to_string();
                        self.abandon_from(index, ("proof", &why), Fate::Retry, ctx);
                    }
                }
            }
        }
        self.pump(ctx);
    }
}
