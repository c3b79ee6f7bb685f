//! A proposal's blob payload built block by block: each block's RLP is deflated once, when it
//! joins, so sealing a proposal costs microseconds instead of re-compressing megabytes, and the
//! payload size is known exactly at every step.
//!
//! The zlib stream is `header ‖ stored block (the manifest's two RLP list headers, known only
//! at the end) ‖ the blocks' deflate data (sync-flushed per block) ‖ empty final block ‖ adler32`.
//! Any zlib decoder (the driver's Go `zlib`, Raiko's Rust) reads it as the plain manifest RLP;
//! back-references never reach before the blocks' own data, so the stored prefix is harmless.

use std::io::Write;

use alloy::rlp::{Encodable, Header};
use flate2::{Compression, write::DeflateEncoder};

use super::{
    manifest::BlockManifest,
    payload::{self, FRAME_HEADER},
};

/// zlib header for deflate with a 32 KiB window at the default level (what `zlib` writes).
const ZLIB_HEADER: [u8; 2] = [0x78, 0x9c];
/// A final, empty block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block.
const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];
/// Stored-block overhead: the block header byte, LEN and NLEN.
const STORED_OVERHEAD: usize = 5;
/// Longest the two RLP list headers can be.
const MAX_LIST_HEADERS: usize = 18;

/// The growing payload of one proposal.
pub struct ManifestStream {
    deflate: DeflateEncoder<Vec<u8>>,
    rlp_blocks: Vec<u8>,
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
            deflate: DeflateEncoder::new(Vec::new(), Compression::default()),
            rlp_blocks: Vec::new(),
            blocks: 0,
        }
    }

    /// Blocks added so far.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// The RLP encoding of `block`.
    pub fn encode_block(block: &BlockManifest) -> Vec<u8> {
        let mut out = Vec::with_capacity(block.length());
        block.encode(&mut out);
        out
    }

    /// The payload size if a block whose RLP is `rlp_len` bytes were added, assuming the worst
    /// case for its compression (zlib's `deflateBound` plus the sync flush). A block passing
    /// this check is guaranteed to fit.
    pub fn payload_len_with(&self, rlp_len: usize) -> usize {
        let bound = rlp_len + (rlp_len >> 12) + (rlp_len >> 14) + (rlp_len >> 25) + 13 + 5;
        self.fixed_overhead() + self.deflate.get_ref().len() + bound
    }

    /// Adds one block (its RLP from [`Self::encode_block`]).
    pub fn push_encoded(&mut self, rlp: &[u8]) {
        // Writes into a Vec cannot fail.
        let _ = self.deflate.write_all(rlp);
        // A sync flush ends the block's data on a byte boundary, so the size is exact and the
        // final bytes can be appended at any time.
        let _ = self.deflate.flush();
        self.rlp_blocks.extend_from_slice(rlp);
        self.blocks += 1;
    }

    fn fixed_overhead(&self) -> usize {
        FRAME_HEADER
            + 1
            + ZLIB_HEADER.len()
            + STORED_OVERHEAD
            + MAX_LIST_HEADERS
            + FINAL_EMPTY_BLOCK.len()
            + 4
    }

    /// Size of the payload [`Self::payload`] would return, counting the two RLP list headers
    /// at their longest: exact but for at most 18 bytes, never below the real size.
    pub fn payload_len(&self) -> usize {
        self.fixed_overhead() + self.deflate.get_ref().len()
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

        let mut adler = adler2::Adler32::new();
        adler.write_slice(&headers);
        adler.write_slice(&self.rlp_blocks);

        let deflated = self.deflate.get_ref();
        let mut zlib = Vec::with_capacity(deflated.len() + 32);
        zlib.extend_from_slice(&ZLIB_HEADER);
        zlib.push(0x00); // stored block, not final
        let len = headers.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(&headers);
        zlib.extend_from_slice(deflated);
        zlib.extend_from_slice(&FINAL_EMPTY_BLOCK);
        zlib.extend_from_slice(&adler.checksum().to_be_bytes());
        payload::plaintext(&zlib)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::manifest::DerivationSourceManifest;
    use alloy::primitives::Address;

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
            let rlp = ManifestStream::encode_block(&b);
            let bound = stream.payload_len_with(rlp.len());
            stream.push_encoded(&rlp);
            blocks.push(b);
            assert!(stream.payload_len() <= bound);
            let payload = stream.payload();
            assert!(payload.len() <= stream.payload_len());
            assert!(payload.len() + MAX_LIST_HEADERS >= stream.payload_len());
        }
        let decoded = DerivationSourceManifest::from_plaintext_payload(&stream.payload()).unwrap();
        assert_eq!(decoded, DerivationSourceManifest { blocks });
    }
}
