//! What the Raiko stand-in checks before it signs: it re-derives the proposal from the blobs it
//! was given (blob decode → frame → scheme → zlib → RLP manifest), the forced inclusions first as
//! Raiko's realtime guest does ([`super::forced`]), then the proposer's manifest; checks every
//! block against the L2 chain and the checkpoint, and computes the commitment as the inbox does.
//! Any mismatch is an error naming the field.

use alloy::{
    consensus::{Transaction, TxEnvelope},
    eips::{eip4844::Blob, eip4844::env_settings::EnvKzgSettings, eip4844::kzg_to_versioned_hash},
    primitives::{B256, Bytes},
    providers::Provider,
    rpc::types::Header,
    signers::SignerSync,
    sol_types::SolCall,
};
use bindings::{BlobSlice, Checkpoint, DerivationSource, IAnchor, Proposal};
use common::{
    anchor::ANCHOR_GAS_LIMIT,
    codec::{blob, manifest::DerivationSourceManifest, payload, privacy},
    commitment,
};

use super::{ProofRequest, Raiko, forced};

/// A signed proof and what its derivation found.
pub(super) struct Derived {
    /// The 65-byte mock proof.
    pub proof: Bytes,
    /// The commitment hash it signs (in the public input).
    pub commitment: B256,
    /// Forced-inclusion sources derived, and how many of them were invalid (anchor-only blocks).
    pub forced: u64,
    pub forced_empty: u64,
}

/// An L2 block of the proposal that passed the checks every block gets.
pub(super) struct L2Block {
    pub header: Header,
    /// Hashes of the txs after the anchor, in order.
    pub txs: Vec<B256>,
}

/// Re-derives and checks the proposal; returns the mock proof and the commitment hash.
pub(super) async fn check_and_sign(raiko: &Raiko, req: &ProofRequest) -> Result<Derived, String> {
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
    let (fi_sources, source) = forced::split(&req.sources)?;
    let k = fi_sources.len();
    if source.blob_slice.timestamp != 0 {
        return Err(format!(
            "sources[{k}].blobSlice.timestamp: {}, the inbox commits to 0",
            source.blob_slice.timestamp
        ));
    }
    if source.blob_slice.blob_hashes.is_empty() {
        return Err(format!("sources[{k}].blobSlice.blobHashes: empty"));
    }
    // `blobs` is flat: one blob per hash of `sources`, in order, so the FI blobs come first.
    let expected: Vec<(usize, usize, B256)> = req
        .sources
        .iter()
        .enumerate()
        .flat_map(|(s, src)| {
            let hashes = src.blob_slice.blob_hashes.iter().enumerate();
            hashes.map(move |(n, hash)| (s, n, *hash))
        })
        .collect();
    if expected.len() != req.blobs.len() {
        return Err(format!(
            "blobs: {} blobs but sources list {} blob hashes (one blob per hash, in order)",
            req.blobs.len(),
            expected.len()
        ));
    }
    if numbers.len() < k {
        return Err(format!(
            "l2_block_numbers: {} blocks for {k} forced inclusions (one block each)",
            numbers.len()
        ));
    }
    let (key, fi_key) = {
        let state = raiko.state.lock().await;
        (state.privacy_key, state.fi_privkey)
    };
    let raw = req.blobs.clone();
    let fi_offsets: Vec<u32> = fi_sources.iter().map(|s| s.blob_slice.offset).collect();
    let own_offset = source.blob_slice.offset;
    // KZG commitments and inflating take CPU time (and the first KZG call loads the trusted
    // setup): off the async workers, which also serve the devnet's other endpoints.
    let (inclusions, manifest) = tokio::task::spawn_blocking(move || {
        let blobs = decode_blobs(&raw, &expected)?;
        let (fi_blobs, own_blobs) = blobs
            .split_at_checked(fi_offsets.len())
            .ok_or_else(|| "blobs: fewer blobs than forced inclusions".to_string())?;
        let inclusions: Vec<forced::Inclusion> = fi_blobs
            .iter()
            .zip(&fi_offsets)
            .map(|(blob, offset)| forced::open(blob, *offset, (key, fi_key)))
            .collect();
        let manifest = open_source(own_blobs, own_offset, k, key)?;
        Ok::<_, String>((inclusions, manifest))
    })
    .await
    .map_err(|e| format!("blobs: the decoding task died: {e}"))??;
    if manifest.blocks.len() != numbers.len() - k {
        return Err(format!(
            "manifest: {} blocks but l2_block_numbers lists {} ({k} of them for forced inclusions)",
            manifest.blocks.len(),
            numbers.len()
        ));
    }
    let mut last_block = forced::check_blocks(raiko, req, &inclusions).await?;
    let mut parent_hash = last_block
        .as_ref()
        .map_or(req.last_finalized_block_hash, |h| h.hash);
    let own_numbers = numbers.iter().skip(k);
    for (j, (number, m)) in own_numbers.zip(&manifest.blocks).enumerate() {
        let label = format!("L2 block {number}");
        let block = read_block(raiko, req, k + j, parent_hash, &label).await?;
        let h = &block.header;
        let differs = |name: &str, says: String, has: String| {
            Err(format!("manifest.blocks[{j}].{name}: {says} but {has}"))
        };
        if m.timestamp != h.timestamp {
            return differs(
                "timestamp",
                m.timestamp.to_string(),
                format!("{label} has {}", h.timestamp),
            );
        }
        if m.coinbase != h.beneficiary {
            return differs(
                "coinbase",
                m.coinbase.to_string(),
                format!("{label} has {}", h.beneficiary),
            );
        }
        if m.gas_limit + ANCHOR_GAS_LIMIT != h.gas_limit {
            return differs(
                "gasLimit",
                format!("{} + anchor {ANCHOR_GAS_LIMIT}", m.gas_limit),
                format!("{label} has {}", h.gas_limit),
            );
        }
        if m.anchor_block_number != req.max_anchor_block_number {
            return differs(
                "anchorBlockNumber",
                m.anchor_block_number.to_string(),
                format!("max_anchor_block_number is {}", req.max_anchor_block_number),
            );
        }
        let want: Vec<B256> = m.transactions.iter().map(|t| *t.tx_hash()).collect();
        if block.txs != want {
            return differs(
                "transactions",
                format!("tx hashes {want:?}"),
                format!("{label} has {:?} after its anchor", block.txs),
            );
        }
        parent_hash = block.header.hash;
        last_block = Some(block.header);
    }
    let Some(last_block) = last_block else {
        return Err("l2_block_numbers: empty".into());
    };
    let (number, hash, state_root) = (last_block.number, last_block.hash, last_block.state_root);
    let cp = checkpoint;
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
    // The inbox hashes the whole array: the FIs with their stored slices (timestamps included),
    // then the proposer's slice with timestamp 0. `forced::split` bounded every field to its
    // sol width, so the conversions below cannot overflow.
    let sources = req
        .sources
        .iter()
        .map(|s| DerivationSource {
            isForcedInclusion: s.is_forced_inclusion,
            blobSlice: BlobSlice {
                blobHashes: s.blob_slice.blob_hashes.clone(),
                offset: alloy::primitives::Uint::from(s.blob_slice.offset),
                timestamp: alloy::primitives::Uint::from(s.blob_slice.timestamp),
            },
        })
        .collect();
    let proposal = Proposal {
        maxAnchorBlockNumber: alloy::primitives::Uint::from(req.max_anchor_block_number),
        maxAnchorBlockHash: anchor_block.header.hash,
        basefeeSharingPctg: req.basefee_sharing_pctg,
        sources,
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
    let invalid = inclusions.iter().filter(|i| !i.is_valid()).count();
    Ok(Derived {
        proof: Bytes::from(signature.as_bytes().to_vec()),
        commitment: commitment_hash,
        forced: k as u64,
        forced_empty: invalid as u64,
    })
}

/// Reads L2 block `l2_block_numbers[index]` (`label` names it in errors) and checks what every
/// block of the proposal shares, FI or not: it follows `parent_hash`, its first tx is the anchor
/// at `max_anchor_block_number`, and only the proposal's first block carries the signal slots
/// (Raiko's `verify_realtime_anchor_linkage`).
pub(super) async fn read_block(
    raiko: &Raiko,
    req: &ProofRequest,
    index: usize,
    parent_hash: B256,
    label: &str,
) -> Result<L2Block, String> {
    let Some(number) = req.l2_block_numbers.get(index).copied() else {
        return Err(format!("l2_block_numbers[{index}]: missing"));
    };
    let block = raiko
        .l2
        .get_block_by_number(number.into())
        .full()
        .await
        .map_err(|e| format!("reading L2 block {number}: {e}"))?
        .ok_or_else(|| format!("l2_block_numbers[{index}]: L2 block {number} does not exist"))?;
    if block.header.parent_hash != parent_hash {
        let field = if index == 0 {
            "last_finalized_block_hash"
        } else {
            "l2_block_numbers"
        };
        return Err(format!(
            "{field}: {label} has parent {}, expected {parent_hash}",
            block.header.parent_hash
        ));
    }
    let txs: Vec<TxEnvelope> = block
        .transactions
        .into_transactions()
        .map(|t| t.inner.into_inner())
        .collect();
    let Some((anchor_tx, rest)) = txs.split_first() else {
        return Err(format!("{label} has no anchor tx"));
    };
    let anchor = IAnchor::anchorV4WithSignalSlotsCall::abi_decode(anchor_tx.input())
        .map_err(|_| format!("{label}: first tx is not an anchorV4WithSignalSlots call"))?;
    let anchored: u64 = anchor._checkpoint.blockNumber.to();
    if anchored != req.max_anchor_block_number {
        return Err(format!(
            "max_anchor_block_number: {} but {label} anchors L1 block {anchored}",
            req.max_anchor_block_number
        ));
    }
    // Index 0 is FI_0 when the proposal starts with forced inclusions.
    let expected_slots: &[B256] = if index == 0 { &req.signal_slots } else { &[] };
    if anchor._signalSlots != expected_slots {
        return Err(format!(
            "signal_slots: {label} anchors fast signals {:?}, Raiko derives {:?} (only the proposal's first block carries them)",
            anchor._signalSlots, expected_slots
        ));
    }
    Ok(L2Block {
        header: block.header,
        txs: rest.iter().map(|t| *t.tx_hash()).collect(),
    })
}

/// The proposer's manifest (source `index`) from its blobs.
fn open_source(
    blobs: &[Blob],
    offset: u32,
    index: usize,
    key: Option<[u8; 32]>,
) -> Result<DerivationSourceManifest, String> {
    let payload = blob::decode(blobs).map_err(|e| format!("blobs of sources[{index}]: {e}"))?;
    let offset = offset as usize;
    let framed = payload
        .get(offset..)
        .ok_or_else(|| format!("sources[{index}].blobSlice.offset {offset} is past the payload"))?;
    open_payload(framed, key)
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

/// Checks each blob against its versioned hash; `expected` holds, per blob, its source's index,
/// the hash's index in that source and the hash.
fn decode_blobs(raw: &[Bytes], expected: &[(usize, usize, B256)]) -> Result<Vec<Blob>, String> {
    let settings = EnvKzgSettings::Default.get();
    raw.iter()
        .zip(expected)
        .enumerate()
        .map(|(i, (bytes, (source, n, hash)))| {
            let blob = Blob::try_from(bytes.as_ref())
                .map_err(|_| format!("blobs[{i}]: {} bytes, a blob is 131072", bytes.len()))?;
            let kzg_blob = alloy::eips::eip4844::c_kzg::Blob::new(blob.0);
            let commitment = settings
                .blob_to_kzg_commitment(&kzg_blob)
                .map_err(|e| format!("blobs[{i}]: not a valid blob: {e}"))?;
            let versioned = kzg_to_versioned_hash(commitment.as_slice());
            if versioned != *hash {
                return Err(format!(
                    "sources[{source}].blobSlice.blobHashes[{n}]: {hash} is not the versioned hash of blobs[{i}] ({versioned})"
                ));
            }
            Ok(blob)
        })
        .collect()
}
