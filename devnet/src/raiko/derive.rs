//! What the Raiko stand-in checks before it signs: it re-derives the proposal from the blobs it
//! was given exactly as the driver would (blob decode → frame → scheme → zlib → RLP manifest),
//! checks the manifest against the L2 chain and the checkpoint, and computes the commitment as
//! the inbox does. Any mismatch is an error naming the field.

use alloy::{
    consensus::{Transaction, TxEnvelope},
    eips::{eip4844::Blob, eip4844::env_settings::EnvKzgSettings, eip4844::kzg_to_versioned_hash},
    primitives::{B256, Bytes},
    providers::Provider,
    signers::SignerSync,
    sol_types::SolCall,
};
use bindings::{BlobSlice, Checkpoint, DerivationSource, IAnchor, Proposal};
use common::{
    anchor::ANCHOR_GAS_LIMIT,
    codec::{blob, manifest::DerivationSourceManifest, payload, privacy},
    commitment,
};

use super::{ProofRequest, Raiko};

/// Re-derives and checks the proposal; returns the 65-byte mock proof and the commitment hash.
pub(super) async fn check_and_sign(
    raiko: &Raiko,
    req: &ProofRequest,
) -> Result<(Bytes, B256), String> {
    if !["sp1", "risc0", "zisk", "native"].contains(&req.proof_type.as_str()) {
        return Err(format!("proof_type: unknown {:?}", req.proof_type));
    }
    if req.blob_proof_type != "proof_of_equivalence" {
        return Err(format!(
            "blob_proof_type: {:?}, expected \"proof_of_equivalence\"",
            req.blob_proof_type
        ));
    }
    if req.basefee_sharing_pctg != raiko.basefee_sharing_pctg {
        return Err(format!(
            "basefee_sharing_pctg: {} but the inbox is configured with {}",
            req.basefee_sharing_pctg, raiko.basefee_sharing_pctg
        ));
    }
    let numbers = &req.l2_block_numbers;
    let Some(last) = numbers.last() else {
        return Err("l2_block_numbers: empty".into());
    };
    if numbers.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(format!(
            "l2_block_numbers: {numbers:?} is not a contiguous ascending range"
        ));
    }
    let Some(checkpoint) = &req.checkpoint else {
        return Err(
            "checkpoint: missing (the realtime API needs the proposal's checkpoint)".into(),
        );
    };
    if *last != checkpoint.block_number {
        return Err(format!(
            "checkpoint.block_number: {} but the last of l2_block_numbers is {last}",
            checkpoint.block_number
        ));
    }
    let [source] = req.sources.as_slice() else {
        return Err(format!(
            "sources: {} sources, the devnet proves exactly one (the proposer's)",
            req.sources.len()
        ));
    };
    if source.is_forced_inclusion {
        return Err(
            "sources[0].isForcedInclusion: forced inclusions are not supported by the devnet"
                .into(),
        );
    }
    if source.blob_slice.timestamp != 0 {
        return Err(format!(
            "sources[0].blobSlice.timestamp: {}, the inbox commits to 0",
            source.blob_slice.timestamp
        ));
    }
    let hashes = &source.blob_slice.blob_hashes;
    if hashes.len() != req.blobs.len() || hashes.is_empty() {
        return Err(format!(
            "sources[0].blobSlice.blobHashes: {} hashes for {} blobs",
            hashes.len(),
            req.blobs.len()
        ));
    }
    // KZG commitments take CPU time (and the first call loads the trusted setup): off the
    // async workers, which also serve the devnet's other endpoints.
    let (raw, expected) = (req.blobs.clone(), hashes.clone());
    let blobs = tokio::task::spawn_blocking(move || decode_blobs(&raw, &expected))
        .await
        .map_err(|e| format!("blobs: the decoding task died: {e}"))??;
    let payload = blob::decode(&blobs).map_err(|e| format!("blobs: {e}"))?;
    let offset = source.blob_slice.offset as usize;
    let framed = payload
        .get(offset..)
        .ok_or_else(|| format!("sources[0].blobSlice.offset {offset} is past the payload"))?;
    let key = raiko.state.lock().await.privacy_key;
    let manifest = open_payload(framed, key)?;
    if manifest.blocks.len() != numbers.len() {
        return Err(format!(
            "manifest: {} blocks but l2_block_numbers lists {}",
            manifest.blocks.len(),
            numbers.len()
        ));
    }
    let mut parent_hash = req.last_finalized_block_hash;
    let mut last_block = None;
    for (i, (number, block_manifest)) in numbers.iter().zip(&manifest.blocks).enumerate() {
        let block = raiko
            .l2
            .get_block_by_number((*number).into())
            .full()
            .await
            .map_err(|e| format!("reading L2 block {number}: {e}"))?
            .ok_or_else(|| format!("l2_block_numbers[{i}]: L2 block {number} does not exist"))?;
        if block.header.parent_hash != parent_hash {
            let field = if i == 0 {
                "last_finalized_block_hash"
            } else {
                "l2_block_numbers"
            };
            return Err(format!(
                "{field}: L2 block {number} has parent {}, expected {parent_hash}",
                block.header.parent_hash
            ));
        }
        let m = block_manifest;
        let h = &block.header;
        let differs = |name: &str, says: String, has: String| {
            Err(format!("manifest.blocks[{i}].{name}: {says} but {has}"))
        };
        if m.timestamp != h.timestamp {
            return differs(
                "timestamp",
                m.timestamp.to_string(),
                format!("L2 block {number} has {}", h.timestamp),
            );
        }
        if m.coinbase != h.beneficiary {
            return differs(
                "coinbase",
                m.coinbase.to_string(),
                format!("L2 block {number} has {}", h.beneficiary),
            );
        }
        if m.gas_limit + ANCHOR_GAS_LIMIT != h.gas_limit {
            return differs(
                "gasLimit",
                format!("{} + anchor {ANCHOR_GAS_LIMIT}", m.gas_limit),
                format!("L2 block {number} has {}", h.gas_limit),
            );
        }
        if m.anchor_block_number != req.max_anchor_block_number {
            return differs(
                "anchorBlockNumber",
                m.anchor_block_number.to_string(),
                format!("max_anchor_block_number is {}", req.max_anchor_block_number),
            );
        }
        let txs: Vec<TxEnvelope> = block
            .transactions
            .into_transactions()
            .map(|t| t.inner.into_inner())
            .collect();
        let Some((anchor_tx, rest)) = txs.split_first() else {
            return Err(format!("L2 block {number} has no anchor tx"));
        };
        let anchor =
            IAnchor::anchorV4WithSignalSlotsCall::abi_decode(anchor_tx.input()).map_err(|_| {
                format!("L2 block {number}: first tx is not an anchorV4WithSignalSlots call")
            })?;
        let anchored: u64 = anchor._checkpoint.blockNumber.to();
        if anchored != req.max_anchor_block_number {
            return Err(format!(
                "max_anchor_block_number: {} but L2 block {number} anchors L1 block {anchored}",
                req.max_anchor_block_number
            ));
        }
        let expected_slots: &[B256] = if i == 0 { &req.signal_slots } else { &[] };
        if anchor._signalSlots != expected_slots {
            return Err(format!(
                "signal_slots: L2 block {number} anchors fast signals {:?}, the driver derives {:?} (only the proposal's first block carries them)",
                anchor._signalSlots, expected_slots
            ));
        }
        let got: Vec<B256> = rest.iter().map(|t| *t.tx_hash()).collect();
        let want: Vec<B256> = m.transactions.iter().map(|t| *t.tx_hash()).collect();
        if got != want {
            return differs(
                "transactions",
                format!("tx hashes {want:?}"),
                format!("L2 block {number} has {got:?} after its anchor"),
            );
        }
        parent_hash = h.hash;
        last_block = Some((h.number, h.hash, h.state_root));
    }
    let Some((number, hash, state_root)) = last_block else {
        return Err("l2_block_numbers: empty".into());
    };
    let Some(cp) = &req.checkpoint else {
        return Err("checkpoint: missing".into());
    };
    if (cp.block_number, cp.block_hash, cp.state_root) != (number, hash, state_root) {
        return Err(format!(
            "checkpoint: ({}, {}, {}) but L2 block {number} is ({number}, {hash}, {state_root})",
            cp.block_number, cp.block_hash, cp.state_root
        ));
    }
    let anchor_block = raiko
        .l1
        .get_block_by_number(req.max_anchor_block_number.into())
        .await
        .map_err(|e| format!("reading L1 block {}: {e}", req.max_anchor_block_number))?
        .ok_or_else(|| {
            format!(
                "max_anchor_block_number: L1 block {} does not exist",
                req.max_anchor_block_number
            )
        })?;
    let proposal = Proposal {
        maxAnchorBlockNumber: alloy::primitives::Uint::from(req.max_anchor_block_number),
        maxAnchorBlockHash: anchor_block.header.hash,
        basefeeSharingPctg: req.basefee_sharing_pctg,
        sources: vec![DerivationSource {
            isForcedInclusion: false,
            blobSlice: BlobSlice {
                blobHashes: hashes.clone(),
                offset: alloy::primitives::Uint::from(source.blob_slice.offset),
                timestamp: alloy::primitives::Uint::ZERO,
            },
        }],
        signalSlotsHash: commitment::signal_slots_hash(&req.signal_slots),
    };
    let checkpoint = Checkpoint {
        blockNumber: alloy::primitives::Uint::from(number),
        blockHash: hash,
        stateRoot: state_root,
    };
    let commitment_hash = commitment::commitment_hash(
        commitment::proposal_hash(&proposal),
        req.last_finalized_block_hash,
        &checkpoint,
    );
    let input = commitment::public_input(raiko.l2_chain_id, raiko.verifier, commitment_hash);
    let signature = raiko
        .signer
        .sign_hash_sync(&input)
        .map_err(|e| format!("mock signing failed: {e}"))?;
    Ok((Bytes::from(signature.as_bytes().to_vec()), commitment_hash))
}

/// The manifest of a plaintext or (with the key) privacy-mode payload, as the driver opens it.
fn open_payload(framed: &[u8], key: Option<[u8; 32]>) -> Result<DerivationSourceManifest, String> {
    let body = payload::unframe(framed).map_err(|e| format!("blobs: payload: {e}"))?;
    match (payload::scheme(body), key) {
        (Ok((payload::Scheme::Aes256Gcm, _)), Some(key)) => {
            let compressed =
                privacy::decrypt(framed, &key).map_err(|e| format!("blobs: payload: {e}"))?;
            let rlp =
                payload::decompress(&compressed).map_err(|e| format!("blobs: payload: {e}"))?;
            DerivationSourceManifest::from_rlp(&rlp).map_err(|e| format!("blobs: manifest: {e}"))
        }
        _ => DerivationSourceManifest::from_plaintext_payload(framed)
            .map_err(|e| format!("blobs: payload: {e}")),
    }
}

fn decode_blobs(raw: &[Bytes], hashes: &[B256]) -> Result<Vec<Blob>, String> {
    let settings = EnvKzgSettings::Default.get();
    raw.iter()
        .zip(hashes)
        .enumerate()
        .map(|(i, (bytes, expected))| {
            let blob = Blob::try_from(bytes.as_ref())
                .map_err(|_| format!("blobs[{i}]: {} bytes, a blob is 131072", bytes.len()))?;
            let kzg_blob = alloy::eips::eip4844::c_kzg::Blob::new(blob.0);
            let commitment = settings
                .blob_to_kzg_commitment(&kzg_blob)
                .map_err(|e| format!("blobs[{i}]: not a valid blob: {e}"))?;
            let versioned = kzg_to_versioned_hash(commitment.as_slice());
            if versioned != *expected {
                return Err(format!(
                    "sources[0].blobSlice.blobHashes[{i}]: {expected} is not the versioned hash of blobs[{i}] ({versioned})"
                ));
            }
            Ok(blob)
        })
        .collect()
}
