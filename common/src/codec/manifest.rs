//! The Shasta derivation-source manifest: `[[timestamp, coinbase, anchorBlockNumber, gasLimit,
//! [tx…]]…]` in RLP, each tx in its network encoding (typed txs as a byte string).

use alloy::{
    consensus::TxEnvelope,
    primitives::Address,
    rlp::{Decodable, Encodable},
};
use alloy_rlp::{RlpDecodable, RlpEncodable};

use super::payload::{self, PayloadError};

/// One L2 block as the driver re-derives it; the anchor tx is not listed (the driver rebuilds it).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockManifest {
    /// Block timestamp (seconds).
    pub timestamp: u64,
    /// Fee recipient of the block.
    pub coinbase: Address,
    /// L1 block the block anchors to (the proposal's `maxAnchorBlockNumber`).
    pub anchor_block_number: u64,
    /// Block gas limit without the anchor's 1,000,000.
    pub gas_limit: u64,
    /// The block's transactions after the anchor, in order.
    pub transactions: Vec<TxEnvelope>,
}

/// All blocks of one proposal's source.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct DerivationSourceManifest {
    /// The blocks, in chain order.
    pub blocks: Vec<BlockManifest>,
}

/// Why a manifest could not be read back from a payload.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ManifestError {
    /// Frame, scheme or zlib layer.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The RLP is malformed or has trailing bytes.
    #[error("manifest RLP: {0}")]
    Rlp(String),
}

impl DerivationSourceManifest {
    /// RLP bytes of the manifest.
    pub fn rlp(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.length());
        self.encode(&mut out);
        out
    }

    /// Decodes RLP bytes, refusing trailing data.
    pub fn from_rlp(mut bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest = Self::decode(&mut bytes).map_err(|e| ManifestError::Rlp(e.to_string()))?;
        if !bytes.is_empty() {
            return Err(ManifestError::Rlp(format!(
                "{} bytes after the manifest",
                bytes.len()
            )));
        }
        Ok(manifest)
    }

    /// The plaintext blob payload: `frame(0x00 ‖ zlib(rlp))`.
    pub fn plaintext_payload(&self) -> Vec<u8> {
        payload::plaintext(&payload::compress(&self.rlp()))
    }

    /// Reads a manifest back from a plaintext blob payload, as the driver and Raiko do.
    pub fn from_plaintext_payload(data: &[u8]) -> Result<Self, ManifestError> {
        Self::from_rlp(&payload::open_plaintext(data)?)
    }
}
