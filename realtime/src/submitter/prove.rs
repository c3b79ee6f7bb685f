//! Proving one proposal: the blob payload (encrypted in privacy mode), its blobs and versioned
//! hashes, the Raiko proof with the cell proofs computed alongside, and the L1 calls of its
//! L2→L1 messages (found while it is proved: its blocks no longer change).

use std::sync::Arc;

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
    raiko::{BlobSliceJson, CheckpointJson, ProofError, ProofRequest, RaikoClient, SourceJson},
};

#[derive(Debug, thiserror::Error)]
pub(super) enum ProofFailure {
    #[error(transparent)]
    Raiko(#[from] ProofError),
    #[error("blob payload: {0}")]
    Payload(String),
    #[error("L1 calls of L2→L1 messages: {0}")]
    L1Calls(String),
}

impl ProofFailure {
    pub(super) fn label(&self) -> &'static str {
        match self {
            ProofFailure::Raiko(e) => e.label(),
            ProofFailure::Payload(_) => "payload",
            ProofFailure::L1Calls(_) => "l1_calls",
        }
    }
}

/// Payload → blobs → versioned hashes → (proof ‖ cell proofs).
pub(super) async fn prove(
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
