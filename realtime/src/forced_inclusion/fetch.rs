//! Reading the queue from the inbox, and an inclusion's blob from the L1 beacon API.

use alloy::{
    eips::eip4844::{Blob, env_settings::EnvKzgSettings, kzg_to_versioned_hash},
    primitives::{Address, B256, Bytes},
    providers::DynProvider,
    rlp::Decodable,
};
use bindings::IRealTimeInbox;
use common::{
    codec::{blob, manifest::DerivationSourceManifest, payload, privacy},
    rpc::{RpcEndpoint, RpcError},
};

use super::{ForcedQueue, ForcedSource, QueuedInclusion, READ_AHEAD};
use crate::slot_clock::SlotClock;

/// Reads `head`, `tail` and the first waiting inclusions, and the delay unless it is known
/// (the inbox's config does not change).
pub async fn read_queue(
    endpoint: &RpcEndpoint,
    provider: &DynProvider,
    inbox: Address,
    delay_sec: Option<u64>,
) -> Result<ForcedQueue, RpcError> {
    let contract = IRealTimeInbox::new(inbox, provider);
    let state = endpoint
        .call(contract.getForcedInclusionState().call())
        .await?;
    let (head, tail) = (state.head.to::<u64>(), state.tail.to::<u64>());
    let delay_sec = match delay_sec {
        Some(delay) => delay,
        None => {
            let config = endpoint.call(contract.getConfig().call()).await?;
            u64::from(config.forcedInclusionDelay)
        }
    };
    let entries = if tail > head {
        let count = (tail - head).min(READ_AHEAD);
        let read = endpoint
            .call(
                contract
                    .getForcedInclusions(
                        alloy::primitives::Uint::from(head),
                        alloy::primitives::Uint::from(count),
                    )
                    .call(),
            )
            .await?;
        read.iter()
            .enumerate()
            .map(|(i, f)| QueuedInclusion {
                index: head + i as u64,
                fee_gwei: f.feeInGwei,
                // The inbox stores exactly one blob per inclusion.
                blob_hash: f.blobSlice.blobHashes.first().copied().unwrap_or_default(),
                offset: f.blobSlice.offset.to::<u32>(),
                saved_at: f.blobSlice.timestamp.to::<u64>(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ForcedQueue {
        head,
        tail,
        delay_sec,
        entries,
    })
}

/// Why an inclusion's blob could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The beacon API did not answer as expected.
    #[error("beacon API {url}: {message}")]
    Beacon {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// No blob with the inclusion's versioned hash in its slot.
    #[error(
        "no blob with versioned hash {hash} in slot {slot}; is L1_BEACON_URL a node that keeps blobs that long?"
    )]
    NotFound {
        /// The hash looked for.
        hash: B256,
        /// The slot asked.
        slot: u64,
    },
}

/// The keys an inclusion's payload may be sealed with, as Raiko's host has them.
#[derive(Clone, Copy, Default)]
pub struct Keys {
    /// The privacy-mode AES key (scheme 0x01, `SURGE_PRIVACY_SYMMETRIC_KEY`).
    pub symmetric: Option<[u8; 32]>,
    /// The rollup's forced-inclusion secret (scheme 0x02, `SURGE_PRIVACY_FI_PRIVKEY`).
    pub forced: Option<[u8; 32]>,
}

/// Fetches the blob of `inclusion` from the beacon API by the slot it was saved in, checks its
/// versioned hash, and opens it as the derivation does with `keys`.
pub async fn fetch_blob(
    http: &reqwest::Client,
    beacon: &url::Url,
    clock: &SlotClock,
    inclusion: &QueuedInclusion,
    keys: Keys,
) -> Result<(ForcedSource, Vec<alloy::consensus::TxEnvelope>), FetchError> {
    let slot = clock.slot_at(inclusion.saved_at);
    let url = format!(
        "{}/eth/v1/beacon/blobs/{slot}?versioned_hashes={}",
        beacon.as_str().trim_end_matches('/'),
        inclusion.blob_hash
    );
    let beacon_error = |message: String| FetchError::Beacon {
        url: url.clone(),
        message,
    };
    let answer = http
        .get(&url)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| beacon_error(e.to_string()))?;
    if !answer.status().is_success() {
        return Err(beacon_error(format!("HTTP {}", answer.status())));
    }
    let body: serde_json::Value = answer
        .json()
        .await
        .map_err(|e| beacon_error(format!("not JSON: {e}")))?;
    let candidates: Vec<Bytes> = body["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| serde_json::from_value(b.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let wanted = inclusion.blob_hash;
    let offset = inclusion.offset;
    // KZG commitments cost CPU, and a blob is 128 KiB: found and opened on a blocking thread,
    // never held on an async task's stack.
    let (found, manifest) = tokio::task::spawn_blocking(move || {
        let settings = EnvKzgSettings::Default.get();
        let found = candidates.into_iter().find(|bytes| {
            let Ok(blob) = Blob::try_from(bytes.as_ref()) else {
                return false;
            };
            settings
                .blob_to_kzg_commitment(&alloy::eips::eip4844::c_kzg::Blob::new(blob.0))
                .is_ok_and(|c| kzg_to_versioned_hash(c.as_slice()) == wanted)
        })?;
        let manifest = Blob::try_from(found.as_ref())
            .ok()
            .and_then(|blob| open(&blob, offset, keys));
        Some((found, manifest))
    })
    .await
    .map_err(|e| beacon_error(format!("checking the blobs failed: {e}")))?
    .ok_or(FetchError::NotFound { hash: wanted, slot })?;
    let (txs, valid) = super::block_txs(manifest);
    let source = ForcedSource {
        index: inclusion.index,
        blob_hash: inclusion.blob_hash,
        offset: inclusion.offset,
        saved_at: inclusion.saved_at,
        blob: found,
        valid,
    };
    Ok((source, txs))
}

/// The manifest in a blob, as Raiko's realtime guest reads a forced inclusion's: version-0 blob
/// decoding, the slice at `offset`, the frame, the scheme (plaintext, AES with the privacy key,
/// or ECIES with the forced-inclusion secret), zlib, RLP. Any failure means no manifest (the inclusion's block is then empty), and,
/// as in Raiko's `DerivationSourceManifest::decode`, bytes after the manifest are ignored.
pub fn open(found: &Blob, offset: u32, keys: Keys) -> Option<DerivationSourceManifest> {
    let data = blob::decode(std::slice::from_ref(found)).ok()?;
    let framed = data.get(offset as usize..)?;
    let body = unframe(framed)?;
    // The privacy functions read a frame strictly (the size word's high 24 bytes zero), so
    // they get the body re-framed as Raiko sliced it, not the blob's own frame.
    let compressed = match payload::scheme(body).ok()? {
        (payload::Scheme::Plaintext, compressed) => compressed.to_vec(),
        (payload::Scheme::Aes256Gcm, _) => {
            privacy::decrypt(&payload::frame(body), &keys.symmetric?).ok()?
        }
        (payload::Scheme::Ecies, _) => {
            privacy::decrypt_forced(&payload::frame(body), &keys.forced?).ok()?
        }
    };
    let rlp = payload::decompress(&compressed).ok()?;
    DerivationSourceManifest::decode(&mut rlp.as_slice()).ok()
}

/// The framed body as Raiko reads an inclusion's (`blob_tx_slice_param_for_source` in
/// NethermindEth/raiko `lib/src/input.rs`): version word 1, and the size from the low 8 bytes
/// of the second word only, which must fit what follows.
fn unframe(framed: &[u8]) -> Option<&[u8]> {
    let (version, rest) = framed.split_at_checked(32)?;
    let (size, body) = rest.split_at_checked(32)?;
    if version[..31].iter().any(|b| *b != 0) || version[31] != 1 {
        return None;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&size[24..]);
    let len = usize::try_from(u64::from_be_bytes(low)).ok()?;
    body.get(..len)
}
