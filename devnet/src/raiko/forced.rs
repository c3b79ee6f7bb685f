//! Forced-inclusion (FI) sources, derived as the real Raiko realtime guest derives them
//! (NethermindEth/raiko `lib/src/utils/realtime.rs`, `generate_transactions_for_realtime_blocks`;
//! `docs/research/forced-inclusions.md` §2 and §5), because the proof, not the driver, decides
//! whether a proposal lands.
//!
//! Every FI source becomes exactly one L2 block, ahead of the proposer's blocks. Raiko fixes its
//! header itself (the submitter's manifest header is ignored) and takes its txs from the FI
//! manifest's only block. An inclusion that does not decode to such a manifest is invalid, which
//! is not an error: Raiko proves it as a block holding only its anchor.

use alloy::{
    consensus::TxEnvelope,
    eips::eip4844::Blob,
    primitives::{Address, B256},
    providers::Provider,
    rlp::{self, Decodable},
    rpc::types::Header,
};
use common::{
    anchor::ANCHOR_GAS_LIMIT,
    codec::{
        blob,
        manifest::BlockManifest,
        payload::{self, FRAME_HEADER, Scheme},
        privacy,
    },
};

use super::{
    ProofRequest, Raiko, Source,
    derive::{self, L2Block},
};

/// Largest values of the slice's `uint24 offset` and `uint48 timestamp`.
const MAX_OFFSET: u32 = (1 << 24) - 1;
const MAX_TIMESTAMP: u64 = (1 << 48) - 1;

/// What one FI source derives to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Inclusion {
    /// The hashes of the txs of the manifest's only block, in order.
    Valid(Vec<B256>),
    /// Why Raiko falls back to the anchor-only block.
    Invalid(String),
}

impl Inclusion {
    pub(super) fn is_valid(&self) -> bool {
        matches!(self, Self::Valid(_))
    }
}

/// Splits `sources` into the FIs and the proposer's source. The guest asserts the shape
/// `[FI…, proposer]` and panics on any other ("last source should be normal source", "begin
/// sources are force inclusion source"), so such a request gets a named error here.
pub(super) fn split(sources: &[Source]) -> Result<(&[Source], &Source), String> {
    let Some((own, fis)) = sources.split_last() else {
        return Err("sources: empty".into());
    };
    let k = fis.len();
    if own.is_forced_inclusion {
        return Err(format!(
            "sources[{k}].isForcedInclusion: true, but the last source must be the proposer's (Raiko: \"last source should be normal source\")"
        ));
    }
    for (i, s) in fis.iter().enumerate() {
        if !s.is_forced_inclusion {
            return Err(format!(
                "sources[{i}].isForcedInclusion: false, but only the last source may be the proposer's (Raiko: \"begin sources are force inclusion source\")"
            ));
        }
        let hashes = s.blob_slice.blob_hashes.len();
        if hashes != 1 {
            return Err(format!(
                "sources[{i}].blobSlice.blobHashes: {hashes} hashes, the inbox stores exactly one blob per forced inclusion"
            ));
        }
        if s.blob_slice.timestamp == 0 {
            return Err(format!(
                "sources[{i}].blobSlice.timestamp: 0, a forced inclusion keeps the time the inbox saved it"
            ));
        }
    }
    // Wider values cannot be the inbox's, and would not fit the sol types hashed later.
    for (i, s) in sources.iter().enumerate() {
        if s.blob_slice.offset > MAX_OFFSET {
            return Err(format!(
                "sources[{i}].blobSlice.offset: {} does not fit a uint24",
                s.blob_slice.offset
            ));
        }
        if s.blob_slice.timestamp > MAX_TIMESTAMP {
            return Err(format!(
                "sources[{i}].blobSlice.timestamp: {} does not fit a uint48",
                s.blob_slice.timestamp
            ));
        }
    }
    Ok((fis, own))
}

/// Derives one FI source from its (already hash-checked) blob. Scheme 0x01 opens with the
/// stand-in's privacy key as the proposer's source does, scheme 0x02 with its FI secret; without
/// the key the inclusion is invalid, as it is for a Raiko host without it.
pub(super) fn open(
    blob: &Blob,
    offset: u32,
    keys: (Option<[u8; 32]>, Option<[u8; 32]>),
) -> Inclusion {
    match manifest_txs(blob, offset as usize, keys) {
        Ok(txs) => Inclusion::Valid(txs),
        Err(why) => Inclusion::Invalid(why),
    }
}

fn manifest_txs(
    blob: &Blob,
    offset: usize,
    (key, fi_key): (Option<[u8; 32]>, Option<[u8; 32]>),
) -> Result<Vec<B256>, String> {
    let data = blob::decode(std::slice::from_ref(blob)).map_err(|e| e.to_string())?;
    let inner = slice(&data, offset)?;
    let raw = match payload::scheme(inner).map_err(|e| e.to_string())? {
        (Scheme::Plaintext, compressed) => payload::decompress(compressed),
        (Scheme::Aes256Gcm, _) => {
            let key = key.ok_or("scheme 0x01 and the stand-in has no privacy key")?;
            let compressed = privacy::decrypt(&payload::frame(inner), &key)
                .map_err(|e| format!("scheme 0x01: {e}"))?;
            payload::decompress(&compressed)
        }
        (Scheme::Ecies, _) => {
            let fi_key = fi_key.ok_or("scheme 0x02 and the stand-in has no FI secret")?;
            let compressed = privacy::decrypt_forced(&payload::frame(inner), &fi_key)
                .map_err(|e| format!("scheme 0x02: {e}"))?;
            payload::decompress(&compressed)
        }
    }
    .map_err(|e| e.to_string())?;
    let blocks = decode_blocks(&raw).map_err(|e| format!("manifest RLP: {e}"))?;
    let [only] = blocks.as_slice() else {
        return Err(format!(
            "manifest has {} blocks, a forced inclusion has exactly one",
            blocks.len()
        ));
    };
    Ok(only.transactions.iter().map(|t| *t.tx_hash()).collect())
}

/// The framed body at `offset`, read as Raiko's `blob_tx_slice_param_for_source` reads it:
/// version word bytes32(1), and only the low 8 bytes of the size word. `payload::unframe` also
/// wants the size word's high 24 bytes zero, so a frame Raiko accepts could be refused there.
/// (Raiko also bounds the offset by 131072 − 64, which one blob's payload never reaches.)
fn slice(data: &[u8], offset: usize) -> Result<&[u8], String> {
    let header = offset
        .checked_add(FRAME_HEADER)
        .and_then(|end| data.get(offset..end))
        .ok_or_else(|| format!("no frame header at offset {offset} of {} bytes", data.len()))?;
    if header[..31].iter().any(|b| *b != 0) || header[31] != 1 {
        return Err(format!(
            "frame version word is 0x{}, expected bytes32(1)",
            alloy::hex::encode(&header[..32])
        ));
    }
    let mut word = [0u8; 8];
    word.copy_from_slice(&header[FRAME_HEADER - 8..]);
    let size = usize::try_from(u64::from_be_bytes(word)).map_err(|e| e.to_string())?;
    let start = offset + FRAME_HEADER;
    start
        .checked_add(size)
        .and_then(|end| data.get(start..end))
        .ok_or_else(|| format!("frame declares {size} bytes, past the blob's payload"))
}

/// Raiko's `DerivationSourceManifest::decode` (`lib/src/manifest/codec.rs`). It reads the outer
/// list header but not its length, so bytes after the blocks list are ignored, while the node's
/// `from_rlp` refuses them; each block reads its five fields without checking its own length.
fn decode_blocks(mut bytes: &[u8]) -> Result<Vec<BlockManifest>, rlp::Error> {
    if !rlp::Header::decode(&mut bytes)?.list {
        return Err(rlp::Error::Custom("manifest is not a list"));
    }
    let blocks = Vec::<RaikoBlock>::decode(&mut bytes)?;
    Ok(blocks.into_iter().map(|b| b.0).collect())
}

/// A block manifest decoded as Raiko's `ProtocolBlockManifest` is.
struct RaikoBlock(BlockManifest);

impl Decodable for RaikoBlock {
    fn decode(buf: &mut &[u8]) -> rlp::Result<Self> {
        if !rlp::Header::decode(buf)?.list {
            return Err(rlp::Error::Custom("block manifest is not a list"));
        }
        let block = BlockManifest {
            timestamp: u64::decode(buf)?,
            coinbase: Address::decode(buf)?,
            anchor_block_number: u64::decode(buf)?,
            gas_limit: u64::decode(buf)?,
            transactions: Vec::<TxEnvelope>::decode(buf)?,
        };
        // Raiko decodes into alethia-reth's TaikoTxEnvelope, which has no EIP-4844 variant: a
        // blob tx fails the whole manifest there.
        if block.transactions.iter().any(|t| t.is_eip4844()) {
            return Err(rlp::Error::Custom("EIP-4844 tx in a manifest"));
        }
        Ok(Self(block))
    }
}

/// Header gas limit Raiko derives for FI block `i` when the block before the proposal is block
/// `parent_number` with header gas limit `parent_gas_limit`. Raiko starts from the parent's
/// header limit (anchor included) and, unless that parent is block 0, subtracts the anchor's
/// 1,000,000 from the previous FI's limit, which already excludes it: FI_i gets
/// `G − i·1,000,000`, or `G + 1,000,000` for every i after block 0 (research note §2.3 calls the
/// step a Raiko quirk; the proof enforces it all the same). None where Raiko's subtraction
/// would underflow: no block can be proved there.
fn header_gas_limit(parent_number: u64, parent_gas_limit: u64, i: usize) -> Option<u64> {
    let manifest_limit = if parent_number == 0 {
        parent_gas_limit
    } else {
        let steps = u64::try_from(i).ok()?.checked_add(1)?;
        parent_gas_limit.checked_sub(steps.checked_mul(ANCHOR_GAS_LIMIT)?)?
    };
    manifest_limit.checked_add(ANCHOR_GAS_LIMIT)
}

/// Checks the proposal's first `inclusions.len()` L2 blocks against what Raiko derives for the
/// FIs; returns the last of their headers (none without FIs).
pub(super) async fn check_blocks(
    raiko: &Raiko,
    req: &ProofRequest,
    inclusions: &[Inclusion],
) -> Result<Option<Header>, String> {
    if inclusions.is_empty() {
        return Ok(None);
    }
    let hash = req.last_finalized_block_hash;
    let before = raiko
        .l2
        .get_block_by_hash(hash)
        .await
        .map_err(|e| format!("reading L2 block {hash}: {e}"))?
        .ok_or_else(|| format!("last_finalized_block_hash: the L2 has no block {hash}"))?
        .header;
    let mut parent = before.clone();
    for (i, (number, inclusion)) in req.l2_block_numbers.iter().zip(inclusions).enumerate() {
        let label = format!("L2 block {number} (forced inclusion {i})");
        let block = derive::read_block(raiko, req, i, parent.hash, &label).await?;
        let gas_limit = header_gas_limit(before.number, before.gas_limit, i).ok_or_else(|| {
            format!(
                "{label}: no gas limit Raiko can derive ({} of block {} less {} anchors)",
                before.gas_limit,
                before.number,
                i + 1
            )
        })?;
        check_block(&label, i, &block, inclusion, parent.timestamp, gas_limit)?;
        if let Inclusion::Invalid(why) = inclusion {
            tracing::info!(
                inclusion = i,
                block = *number,
                reason = %why,
                "Raiko stand-in: invalid forced inclusion, proved as an anchor-only block"
            );
        }
        parent = block.header;
    }
    Ok(Some(parent))
}

/// FI block `i` against Raiko's default block: timestamp parent + 1 (the proposal timestamp is 0
/// for realtime and the devnet's fork time never binds), coinbase 0 (the realtime proposer),
/// `gas_limit` from [`header_gas_limit`], and the inclusion's txs.
fn check_block(
    label: &str,
    i: usize,
    block: &L2Block,
    inclusion: &Inclusion,
    parent_timestamp: u64,
    gas_limit: u64,
) -> Result<(), String> {
    let h = &block.header;
    let timestamp = parent_timestamp.saturating_add(1);
    if h.timestamp != timestamp {
        return Err(format!(
            "{label}: timestamp {} but Raiko derives {timestamp}, its parent's + 1",
            h.timestamp
        ));
    }
    if h.beneficiary != Address::ZERO {
        return Err(format!(
            "{label}: beneficiary {} but Raiko derives {} (the realtime proposer)",
            h.beneficiary,
            Address::ZERO
        ));
    }
    if h.gas_limit != gas_limit {
        return Err(format!(
            "{label}: gasLimit {} but Raiko derives {gas_limit}",
            h.gas_limit
        ));
    }
    check_txs(label, i, &block.txs, inclusion)
}

/// The engine skips txs that cannot execute, as Raiko's builder does, so a valid inclusion's
/// block holds its manifest's txs in order, some possibly missing; an invalid one holds none.
fn check_txs(label: &str, i: usize, got: &[B256], inclusion: &Inclusion) -> Result<(), String> {
    match inclusion {
        Inclusion::Invalid(why) if !got.is_empty() => Err(format!(
            "{label}: txs {got:?} after the anchor, but forced inclusion {i} is invalid ({why}): Raiko derives an anchor-only block"
        )),
        Inclusion::Valid(want) if !is_subsequence(got, want) => Err(format!(
            "{label}: txs {got:?} after the anchor are not the forced inclusion's {want:?} in order (only txs the engine skips may be missing)"
        )),
        _ => Ok(()),
    }
}

fn is_subsequence(got: &[B256], want: &[B256]) -> bool {
    let mut want = want.iter();
    got.iter().all(|g| want.any(|w| w == g))
}

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxEip4844},
        primitives::{Signature, TxKind, U256},
    };
    use common::codec::manifest::DerivationSourceManifest;

    use super::*;
    use crate::raiko::Slice;

    fn source(forced: bool, hashes: usize, timestamp: u64) -> Source {
        Source {
            is_forced_inclusion: forced,
            blob_slice: Slice {
                blob_hashes: vec![B256::repeat_byte(9); hashes],
                offset: 0,
                timestamp,
            },
        }
    }

    fn tx(n: u64) -> TxEnvelope {
        let tx = TxEip1559 {
            chain_id: 167_001,
            nonce: n,
            gas_limit: 21_000,
            max_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::with_last_byte(n as u8)),
            ..Default::default()
        };
        let sig = Signature::new(U256::from(n + 1), U256::from(n + 2), false);
        TxEnvelope::Eip1559(tx.into_signed(sig))
    }

    fn manifest(blocks: usize, txs: &[TxEnvelope]) -> DerivationSourceManifest {
        let block = BlockManifest {
            timestamp: 0,
            coinbase: Address::ZERO,
            anchor_block_number: 0,
            gas_limit: 0,
            transactions: txs.to_vec(),
        };
        DerivationSourceManifest {
            blocks: vec![block; blocks],
        }
    }

    fn blob_of(payload: &[u8]) -> Blob {
        blob::encode(payload).remove(0)
    }

    fn opens(payload: &[u8], offset: u32, key: Option<[u8; 32]>) -> Inclusion {
        open(&blob_of(payload), offset, (key, None))
    }

    fn valid(txs: &[TxEnvelope]) -> Inclusion {
        Inclusion::Valid(txs.iter().map(|t| *t.tx_hash()).collect())
    }

    #[test]
    fn only_fis_then_the_proposer_is_a_shape() {
        let good = [source(true, 1, 5), source(true, 1, 6), source(false, 2, 0)];
        let (fis, own) = split(&good).unwrap();
        assert_eq!((fis.len(), own.is_forced_inclusion), (2, false));
        assert_eq!(split(&good[2..]).unwrap().0.len(), 0);

        let fi = |timestamp| source(true, 1, timestamp);
        let own = || source(false, 1, 0);
        for (sources, field) in [
            (vec![fi(5), fi(6)], "sources[1].isForcedInclusion: true"),
            (
                vec![fi(5), own(), own()],
                "sources[1].isForcedInclusion: false",
            ),
            (
                vec![source(true, 2, 5), own()],
                "sources[0].blobSlice.blobHashes: 2",
            ),
            (vec![fi(0), own()], "sources[0].blobSlice.timestamp: 0"),
            (
                vec![fi(1 << 48), own()],
                "sources[0].blobSlice.timestamp: 2814",
            ),
        ] {
            let error = split(&sources).unwrap_err();
            assert!(error.starts_with(field), "{error}");
        }
        assert!(split(&[]).is_err());
    }

    #[test]
    fn gas_limit_steps_down_one_anchor_per_inclusion_except_after_genesis() {
        let g = 30_000_000;
        assert_eq!(header_gas_limit(7, g, 0), Some(g));
        assert_eq!(header_gas_limit(7, g, 2), Some(g - 2_000_000));
        for i in 0..4 {
            assert_eq!(header_gas_limit(0, g, i), Some(g + 1_000_000));
        }
        assert_eq!(header_gas_limit(7, 1_000_000, 0), Some(1_000_000));
        assert_eq!(header_gas_limit(7, 1_000_000, 1), None);
    }

    #[test]
    fn a_valid_inclusion_is_its_only_blocks_txs_read_as_loosely_as_raiko_does() {
        let txs = [tx(1), tx(2)];
        let payload = manifest(1, &txs).plaintext_payload();
        assert_eq!(opens(&payload, 0, None), valid(&txs));
        let shifted = [&[0xaa; 10][..], &payload[..]].concat();
        assert_eq!(opens(&shifted, 10, None), valid(&txs));
        assert_eq!(
            opens(&manifest(1, &[]).plaintext_payload(), 0, None),
            valid(&[])
        );
        // Bytes after the manifest's RLP list, which the node's `from_rlp` refuses.
        let rlp = [manifest(1, &txs).rlp(), vec![0xc0, 0x01]].concat();
        let trailing = payload::plaintext(&payload::compress(&rlp));
        assert_eq!(opens(&trailing, 0, None), valid(&txs));
        // High bytes of the size word set, which `payload::unframe` refuses.
        let mut wide = payload.clone();
        wide[32] = 1;
        assert!(payload::unframe(&wide).is_err());
        assert_eq!(opens(&wide, 0, None), valid(&txs));
        // Scheme 0x01 with the stand-in's key.
        let key = [7u8; 32];
        let sealed = privacy::encrypt(&payload, &key).unwrap();
        assert_eq!(opens(&sealed, 0, Some(key)), valid(&txs));
    }

    #[test]
    fn anything_else_is_an_invalid_inclusion() {
        let txs = [tx(4)];
        let invalid = |payload: &[u8], offset, key| !opens(payload, offset, key).is_valid();
        let good = manifest(1, &txs).plaintext_payload();
        assert!(invalid(&manifest(2, &txs).plaintext_payload(), 0, None));
        assert!(invalid(&manifest(0, &txs).plaintext_payload(), 0, None));
        assert!(invalid(&good, 1, None), "offset off the frame");
        assert!(invalid(&good, 200_000, None), "offset past the payload");
        let garbage: Vec<u8> = (0..5_000u32).map(|i| (i * 131 % 251) as u8).collect();
        assert!(invalid(&garbage, 0, None));
        let raw_zlib = payload::frame(&payload::compress(&manifest(1, &txs).rlp()));
        assert!(invalid(&raw_zlib, 0, None), "no scheme byte");
        let ecies = [&[Scheme::Ecies as u8][..], &[7u8; 100][..]].concat();
        assert!(invalid(&payload::frame(&ecies), 0, Some([1; 32])));
        let sealed = privacy::encrypt(&good, &[7; 32]).unwrap();
        assert!(invalid(&sealed, 0, None), "no key");
        assert!(invalid(&sealed, 0, Some([8; 32])), "wrong key");
        // The zlib header's first byte, right after the frame header and the scheme byte.
        let mut bad_zlib = good.clone();
        bad_zlib[FRAME_HEADER + 1] = 0;
        assert!(invalid(&bad_zlib, 0, None));
        let mut bad_version = blob_of(&good);
        bad_version[1] = 1;
        assert!(!open(&bad_version, 0, (None, None)).is_valid());
        let sig = Signature::new(U256::from(1), U256::from(2), false);
        let blob_tx = TxEnvelope::from(TxEip4844::default().into_signed(sig));
        let with_blob_tx = manifest(1, &[blob_tx]).plaintext_payload();
        assert!(invalid(&with_blob_tx, 0, None), "Raiko has no EIP-4844 tx");
    }

    #[test]
    fn fi_txs_may_only_lose_skipped_txs() {
        let [a, b, c] = [1, 2, 3].map(B256::repeat_byte);
        let valid = Inclusion::Valid(vec![a, b, c]);
        for got in [vec![], vec![a, b, c], vec![a, c], vec![b]] {
            assert!(check_txs("L2 block 1", 0, &got, &valid).is_ok(), "{got:?}");
        }
        for got in [vec![c, a], vec![a, a], vec![B256::ZERO]] {
            assert!(check_txs("L2 block 1", 0, &got, &valid).is_err(), "{got:?}");
        }
        let invalid = Inclusion::Invalid("garbage".into());
        assert!(check_txs("L2 block 1", 0, &[], &invalid).is_ok());
        let error = check_txs("L2 block 1 (forced inclusion 0)", 0, &[a], &invalid).unwrap_err();
        assert!(error.contains("anchor-only"), "{error}");
    }
}
