//! Proving one proposal: the blob payload (encrypted in privacy mode), its blobs and versioned
//! hashes, the Raiko proof with the cell proofs computed alongside, and the L1 calls of its
//! L2→L1 messages (found while it is proved: its blocks no longer change).

use std::sync::Arc;

use alloy::providers::Provider;
use common::supervisor::Handle;

use alloy::{
    eips::eip7594::BlobTransactionSidecarEip7594,
    primitives::{B256, Bytes},
};
use common::{
    codec::{blob, privacy},
    rpc::RpcEndpoint,
    sidecar,
};

use crate::{
    bridge::l1_calls::{self, L1Call, L2Route},
    config::ProofType,
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

#[derive(Debug, thiserror::Error)]
pub(super) enum ProofFailure {
    #[error(transparent)]
    Raiko(#[from] ProofError),
    #[error("the prover is not running ({0})")]
    ProverGone(String),
    #[error("blob payload: {0}")]
    Payload(String),
    #[error("L1 calls of L2→L1 messages: {0}")]
    L1Calls(String),
    /// The L2 did not answer what proving needs: nothing is wrong with the proposal.
    #[error("the L2 did not answer ({0}); proving is tried again")]
    L2Unavailable(String),
    /// The proving task itself panicked (a bug): counted like a failed proof.
    #[error(transparent)]
    Lost(#[from] common::work::TaskPanicked),
}

impl ProofFailure {
    /// Whether the failure counts against `PROOF_MAX_ATTEMPTS` (an L2 that did not answer
    /// says nothing about the proposal: it is only tried again, after a pause).
    pub(super) fn counts(&self) -> bool {
        !matches!(self, ProofFailure::L2Unavailable(_))
    }

    pub(super) fn label(&self) -> &'static str {
        match self {
            ProofFailure::Raiko(e) => e.label(),
            ProofFailure::ProverGone(_) => "prover_gone",
            ProofFailure::Payload(_) => "payload",
            ProofFailure::L1Calls(_) => "l1_calls",
            ProofFailure::L2Unavailable(_) => "l2_unavailable",
            ProofFailure::Lost(_) => "task_panicked",
        }
    }
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
    let request = ProofRequest {
        l2_block_numbers: record.block_numbers(),
        l2_block_hashes: block_hashes(l2, record).await?,
        proof_type: settings.proof_type.name(),
        max_anchor_block_number: record.anchor,
        last_finalized_block_hash: last_finalized,
        basefee_sharing_pctg: settings.basefee_sharing_pctg,
        signal_slots: record.signal_slots.iter().map(|s| s.0).collect(),
        sources: vec![SourceJson {
            is_forced_inclusion: false,
            blob_slice: BlobSliceJson {
                blob_hashes: hashes,
                offset: 0,
                timestamp: 0,
            },
        }],
        blobs: blobs.clone(),
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
