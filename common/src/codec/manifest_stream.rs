//! A proposal's blob payload built block by block: each block's RLP is deflated once, when it
//! joins (split across cores, with the stream's last 32 KiB as dictionary), so sealing a
//! proposal costs microseconds instead of re-compressing megabytes, and the payload size is
//! known exactly at every step.
//!
//! The zlib stream is `header ‖ stored block (the manifest's two RLP list headers, known only
//! at the end) ‖ the blocks' deflate data (sync-flushed per block) ‖ empty final block ‖ adler32`.
//! Any zlib decoder (the driver's Go `zlib`, Raiko's Rust) reads it as the plain manifest RLP;
//! back-references never reach before the blocks' own data, so the stored prefix is harmless.
//!
//! A large block's txs are deflated once, on their own ([`DeflatedTxs`]): a block's RLP ends
//! with its txs' encodings, and so does the driver's tx list, so the same deflate data ends
//! both streams. Only small blocks, which gain most from the proposal's history and cost
//! little, are compressed against it.

use alloy::rlp::{Encodable, Header};
use flate2::Compression;

use super::{
    deflate::{self, FINAL_EMPTY_BLOCK},
    manifest::BlockManifest,
    payload::{self, FRAME_HEADER},
};

/// The zlib header's length.
const ZLIB_HEADER_LEN: usize = 2;
/// Stored-block overhead: the block header byte, LEN and NLEN.
const STORED_OVERHEAD: usize = 5;
/// Longest the two RLP list headers can be.
const MAX_LIST_HEADERS: usize = 18;

/// A block's txs, network-encoded back to back (the RLP list's payload), and their raw deflate
/// at the default level with no dictionary, ending on a byte boundary: valid after any
/// byte-aligned deflate data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflatedTxs {
    rlp: Vec<u8>,
    deflated: Vec<u8>,
    /// Adler-32 of `rlp`, for both zlib streams.
    adler: u32,
}

impl DeflatedTxs {
    /// Below this many bytes of txs a block is compressed with the proposal's history instead.
    pub const MIN_LEN: usize = 64 * 1024;

    /// Deflates `rlp` (the txs' encodings back to back).
    pub fn new(rlp: Vec<u8>) -> Self {
        let deflated = deflate::continuing(&[], &rlp, Compression::default());
        let adler = deflate::adler32(&[&rlp]);
        Self {
            rlp,
            deflated,
            adler,
        }
    }

    /// The txs' encodings.
    pub fn rlp(&self) -> &[u8] {
        &self.rlp
    }

    /// Their deflate data.
    pub fn deflated(&self) -> &[u8] {
        &self.deflated
    }

    /// Adler-32 of the encodings.
    pub fn adler(&self) -> u32 {
        self.adler
    }
}

/// A block's RLP, with its txs' deflate data when it was computed with the driver's tx list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBlock {
    rlp: Vec<u8>,
    txs: Option<DeflatedTxs>,
}

impl EncodedBlock {
    /// Encodes `block`; `txs` is used only if it holds exactly the block's txs.
    pub fn new(block: &BlockManifest, txs: Option<DeflatedTxs>) -> Self {
        let mut rlp = Vec::with_capacity(block.length());
        block.encode(&mut rlp);
        let txs = txs.filter(|t| rlp.ends_with(&t.rlp));
        Self { rlp, txs }
    }

    /// The part of the RLP that is not covered by the shared txs' deflate data.
    fn own(&self) -> &[u8] {
        &self.rlp[..self.rlp.len() - self.txs.as_ref().map_or(0, |t| t.rlp.len())]
    }

    /// The most this block adds to a payload.
    fn bound(&self) -> usize {
        deflate::bound(self.own().len()) + self.txs.as_ref().map_or(0, |t| t.deflated.len())
    }
}

/// The growing payload of one proposal.
pub struct ManifestStream {
    deflated: Vec<u8>,
    /// The blocks' RLP: the next block's deflate dictionary and the checksum's input.
    rlp_blocks: Vec<u8>,
    /// Adler-32 of `rlp_blocks`, kept as blocks join so sealing does not re-read them.
    blocks_adler: u32,
    blocks: usize,
}

impl Default for ManifestStream {
    fn default() -> Self {
        Self::new()
    }
}

impl ManifestStream {
    /// An empty manifest.
    pub fn new() -> Self {
        Self {
            deflated: Vec::new(),
            rlp_blocks: Vec::new(),
            blocks_adler: 1,
            blocks: 0,
        }
    }

    /// Blocks added so far.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// The payload size if `block` were added, assuming the worst case for the part still to
    /// compress (zlib's `deflateBound` plus the sync flush). A block passing this check is
    /// guaranteed to fit.
    pub fn payload_len_with(&self, block: &EncodedBlock) -> usize {
        self.fixed_overhead() + self.deflated.len() + block.bound()
    }

    /// Adds one block.
    pub fn push(&mut self, block: EncodedBlock) {
        // Sync-flushed: the block's data ends on a byte boundary, so the size is exact and the
        // final bytes can be appended at any time.
        let own = block.own();
        let own_deflated = deflate::continuing(&self.rlp_blocks, own, Compression::default());
        self.deflated.extend_from_slice(&own_deflated);
        if let Some(txs) = &block.txs {
            self.deflated.extend_from_slice(&txs.deflated);
        }
        let block_adler = match &block.txs {
            Some(txs) => {
                deflate::adler32_combine(deflate::adler32(&[own]), txs.adler, txs.rlp.len())
            }
            None => deflate::adler32(&[own]),
        };
        self.blocks_adler =
            deflate::adler32_combine(self.blocks_adler, block_adler, block.rlp.len());
        self.rlp_blocks.extend_from_slice(&block.rlp);
        self.blocks += 1;
    }

    fn fixed_overhead(&self) -> usize {
        FRAME_HEADER
            + 1
            + ZLIB_HEADER_LEN
            + STORED_OVERHEAD
            + MAX_LIST_HEADERS
            + FINAL_EMPTY_BLOCK.len()
            + 4
    }

    /// Size of the payload [`Self::payload`] would return, counting the two RLP list headers
    /// at their longest: exact but for at most 18 bytes, never below the real size.
    pub fn payload_len(&self) -> usize {
        self.fixed_overhead() + self.deflated.len()
    }

    /// `frame(0x00 ‖ zlib(rlp(manifest)))`.
    pub fn payload(&self) -> Vec<u8> {
        let inner = Header {
            list: true,
            payload_length: self.rlp_blocks.len(),
        };
        let outer = Header {
            list: true,
            payload_length: inner.length() + self.rlp_blocks.len(),
        };
        let mut headers = Vec::with_capacity(MAX_LIST_HEADERS);
        outer.encode(&mut headers);
        inner.encode(&mut headers);

        let adler = deflate::adler32_combine(
            deflate::adler32(&[&headers]),
            self.blocks_adler,
            self.rlp_blocks.len(),
        );
        let zlib_len = ZLIB_HEADER_LEN
            + STORED_OVERHEAD
            + headers.len()
            + self.deflated.len()
            + FINAL_EMPTY_BLOCK.len()
            + 4;
        let inner_len = 1 + zlib_len;
        // One allocation, each byte written once: this runs on the BatchManager at seal time.
        let mut out = Vec::with_capacity(FRAME_HEADER + inner_len);
        out.extend_from_slice(&payload::frame_header(inner_len));
        out.push(payload::Scheme::Plaintext as u8);
        out.extend_from_slice(&deflate::zlib_header(Compression::default()));
        out.push(0x00); // stored block, not final
        let len = headers.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(&headers);
        out.extend_from_slice(&self.deflated);
        out.extend_from_slice(&FINAL_EMPTY_BLOCK);
        out.extend_from_slice(&adler.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::manifest::DerivationSourceManifest;
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxEnvelope},
        primitives::{Address, Signature, TxKind, U256},
    };

    fn block(n: u64) -> BlockManifest {
        BlockManifest {
            timestamp: 1_000 + n,
            coinbase: Address::repeat_byte(n as u8),
            anchor_block_number: 7,
            gas_limit: 30_000_000,
            transactions: vec![],
        }
    }

    #[test]
    fn streamed_payload_decodes_to_the_manifest_and_its_size_is_known() {
        let mut stream = ManifestStream::new();
        let empty = DerivationSourceManifest::from_plaintext_payload(&stream.payload()).unwrap();
        assert!(empty.blocks.is_empty());
        let mut blocks = Vec::new();
        for n in 0..300 {
            let b = block(n);
            let encoded = EncodedBlock::new(&b, None);
            let bound = stream.payload_len_with(&encoded);
            stream.push(encoded);
            blocks.push(b);
            assert!(stream.payload_len() <= bound);
            let payload = stream.payload();
            assert!(payload.len() <= stream.payload_len());
            assert!(payload.len() + MAX_LIST_HEADERS >= stream.payload_len());
        }
        let decoded = DerivationSourceManifest::from_plaintext_payload(&stream.payload()).unwrap();
        assert_eq!(decoded, DerivationSourceManifest { blocks });
    }

    fn tx(n: u64) -> TxEnvelope {
        let tx = TxEip1559 {
            chain_id: 167_001,
            nonce: n,
            gas_limit: 21_000,
            max_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::with_last_byte(n as u8)),
            value: U256::from(n * 7_919),
            input: vec![n as u8; (n % 50) as usize].into(),
            ..Default::default()
        };
        let sig = Signature::new(
            U256::from(n * 1_000_003),
            U256::from(n * 999_983 + 1),
            n.is_multiple_of(2),
        );
        TxEnvelope::Eip1559(tx.into_signed(sig))
    }

    fn txs_rlp(txs: &[TxEnvelope]) -> Vec<u8> {
        let mut out = Vec::new();
        for tx in txs {
            tx.encode(&mut out);
        }
        out
    }

    #[test]
    fn shared_tx_deflate_joins_the_stream_and_a_mismatched_one_is_ignored() {
        let mut stream = ManifestStream::new();
        let mut blocks: Vec<BlockManifest> = Vec::new();
        for n in 0..6u64 {
            let count = if n % 2 == 0 { 900 } else { 3 };
            let mut b = block(n);
            b.transactions = (n * 1_000..n * 1_000 + count).map(tx).collect();
            let rlp = txs_rlp(&b.transactions);
            let shared = match n {
                // Another block's txs: must not be used.
                4 => Some(DeflatedTxs::new(txs_rlp(&blocks[0].transactions))),
                _ if rlp.len() >= DeflatedTxs::MIN_LEN => Some(DeflatedTxs::new(rlp)),
                _ => None,
            };
            let encoded = EncodedBlock::new(&b, shared);
            assert_eq!(encoded.txs.is_some(), n == 0 || n == 2, "block {n}");
            let bound = stream.payload_len_with(&encoded);
            stream.push(encoded);
            assert!(stream.payload_len() <= bound);
            blocks.push(b);
        }
        let decoded = DerivationSourceManifest::from_plaintext_payload(&stream.payload()).unwrap();
        assert_eq!(decoded, DerivationSourceManifest { blocks });
    }
}
