//! Kona/OP "version 0" blob packing, as the Taiko driver decodes it (protocol.md Appendix A).
//!
//! Every field element's first byte may only use its low 6 bits, so each round of 4 field
//! elements carries 4×31 payload bytes plus 3 bytes spread over those spare 6-bit slots.

use alloy::eips::eip4844::{
    BYTES_PER_BLOB, Blob, FIELD_ELEMENTS_PER_BLOB,
    builder::{PartialSidecar, SidecarCoder},
    utils::WholeFe,
};

/// Payload bytes one blob carries: 1024 rounds of 127 bytes, less the 4-byte header.
pub const MAX_BLOB_PAYLOAD: usize = (4 * 31 + 3) * 1024 - 4;

const ENCODING_VERSION: u8 = 0;
const ROUNDS: usize = 1024;
const FE: usize = 32;

/// Why a blob does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobDecodeError {
    /// The version byte is not 0.
    #[error("blob {blob}: encoding version {found}, expected 0")]
    Version { blob: usize, found: u8 },
    /// The declared length exceeds what a blob can carry.
    #[error("blob {blob}: declared length {len} exceeds {MAX_BLOB_PAYLOAD}")]
    Length { blob: usize, len: usize },
    /// A field element's top two bits are set.
    #[error("blob {blob}: field element {fe} is not canonical (top bits set)")]
    FieldElement { blob: usize, fe: usize },
    /// Non-zero bytes follow the declared payload.
    #[error("blob {blob}: data after the declared length {len}")]
    TrailingData { blob: usize, len: usize },
    /// No blobs at all.
    #[error("no blobs to decode")]
    Empty,
}

/// How many blobs a payload of `len` bytes needs (at least one).
pub fn blobs_needed(len: usize) -> usize {
    len.div_ceil(MAX_BLOB_PAYLOAD).max(1)
}

/// Packs `payload` into as many blobs as it needs, 130,044 bytes per blob.
pub fn encode(payload: &[u8]) -> Vec<Blob> {
    if payload.is_empty() {
        return vec![encode_one(&[])];
    }
    payload.chunks(MAX_BLOB_PAYLOAD).map(encode_one).collect()
}

/// Reads payload bytes in order; past the end it yields zeros, as the reference encoder does.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn fill(&mut self, out: &mut [u8]) {
        for slot in out {
            *slot = self.byte();
        }
    }

    fn exhausted(&self) -> bool {
        self.at >= self.data.len()
    }
}

fn encode_one(chunk: &[u8]) -> Blob {
    debug_assert!(chunk.len() <= MAX_BLOB_PAYLOAD);
    // Built on the heap: a blob is 128 KiB and debug builds keep several copies on the stack.
    let mut blob = vec![0u8; BYTES_PER_BLOB];
    let mut input = Reader { data: chunk, at: 0 };
    let len = chunk.len() as u32;
    for round in 0..ROUNDS {
        if round > 0 && input.exhausted() {
            break;
        }
        let base = round * 4 * FE;
        let [fe0, fe1, fe2, fe3] = [0, 1, 2, 3].map(|i| base + i * FE);
        if round == 0 {
            blob[fe0 + 1] = ENCODING_VERSION;
            blob[fe0 + 2..fe0 + 5].copy_from_slice(&len.to_be_bytes()[1..]);
            input.fill(&mut blob[fe0 + 5..fe0 + FE]);
        } else {
            input.fill(&mut blob[fe0 + 1..fe0 + FE]);
        }
        let x = input.byte();
        blob[fe0] = x & 0x3F;
        input.fill(&mut blob[fe1 + 1..fe1 + FE]);
        let y = input.byte();
        blob[fe1] = (y & 0x0F) | ((x & 0xC0) >> 2);
        input.fill(&mut blob[fe2 + 1..fe2 + FE]);
        let z = input.byte();
        blob[fe2] = z & 0x3F;
        input.fill(&mut blob[fe3 + 1..fe3 + FE]);
        blob[fe3] = ((z & 0xC0) >> 2) | ((y & 0xF0) >> 4);
    }
    Blob::from_slice(&blob)
}

/// Decodes blobs and concatenates their payloads in order.
pub fn decode(blobs: &[Blob]) -> Result<Vec<u8>, BlobDecodeError> {
    if blobs.is_empty() {
        return Err(BlobDecodeError::Empty);
    }
    let mut out = Vec::with_capacity(blobs.len() * MAX_BLOB_PAYLOAD);
    for (i, blob) in blobs.iter().enumerate() {
        decode_one(i, blob.as_slice(), &mut out)?;
    }
    Ok(out)
}

fn decode_one(index: usize, blob: &[u8], out: &mut Vec<u8>) -> Result<(), BlobDecodeError> {
    if blob[1] != ENCODING_VERSION {
        return Err(BlobDecodeError::Version {
            blob: index,
            found: blob[1],
        });
    }
    let len = usize::from(blob[2]) << 16 | usize::from(blob[3]) << 8 | usize::from(blob[4]);
    if len > MAX_BLOB_PAYLOAD {
        return Err(BlobDecodeError::Length { blob: index, len });
    }
    if let Some(fe) = (0..FIELD_ELEMENTS_PER_BLOB as usize).find(|fe| blob[fe * FE] & 0xC0 != 0) {
        return Err(BlobDecodeError::FieldElement { blob: index, fe });
    }
    let mut decoded = Vec::with_capacity(MAX_BLOB_PAYLOAD);
    for round in 0..ROUNDS {
        let base = round * 4 * FE;
        let [fe0, fe1, fe2, fe3] = [0, 1, 2, 3].map(|i| base + i * FE);
        let x = (blob[fe0] & 0x3F) | ((blob[fe1] & 0x30) << 2);
        let y = (blob[fe1] & 0x0F) | ((blob[fe3] & 0x0F) << 4);
        let z = (blob[fe2] & 0x3F) | ((blob[fe3] & 0x30) << 2);
        let first = if round == 0 { fe0 + 5 } else { fe0 + 1 };
        decoded.extend_from_slice(&blob[first..fe0 + FE]);
        decoded.push(x);
        decoded.extend_from_slice(&blob[fe1 + 1..fe1 + FE]);
        decoded.push(y);
        decoded.extend_from_slice(&blob[fe2 + 1..fe2 + FE]);
        decoded.push(z);
        decoded.extend_from_slice(&blob[fe3 + 1..fe3 + FE]);
    }
    if decoded[len..].iter().any(|b| *b != 0) {
        return Err(BlobDecodeError::TrailingData { blob: index, len });
    }
    out.extend_from_slice(&decoded[..len]);
    Ok(())
}

/// [`SidecarCoder`] for alloy's `SidecarBuilder`, so sidecars are built with alloy's plumbing:
/// `SidecarBuilder::<KonaBlobCoder>::from_slice(payload).build_7594()`.
#[derive(Debug, Default, Clone, Copy)]
pub struct KonaBlobCoder;

impl SidecarCoder for KonaBlobCoder {
    fn required_fe(&self, data: &[u8]) -> usize {
        blobs_needed(data.len()) * FIELD_ELEMENTS_PER_BLOB as usize
    }

    fn code(&mut self, builder: &mut PartialSidecar, data: &[u8]) {
        for blob in encode(data) {
            for fe in blob.chunks_exact(FE) {
                // Every field element the encoder writes keeps its top two bits clear.
                if let Some(fe) = WholeFe::new(fe) {
                    builder.ingest_valid_fe(fe);
                }
            }
        }
    }

    fn finish(self, _builder: &mut PartialSidecar) {}

    fn decode_all(&mut self, blobs: &[Blob]) -> Option<Vec<Vec<u8>>> {
        decode(blobs).ok().map(|payload| vec![payload])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect()
    }

    #[test]
    fn round_trips_at_the_edges() {
        for len in [
            0,
            1,
            27,
            28,
            127,
            128,
            MAX_BLOB_PAYLOAD,
            MAX_BLOB_PAYLOAD + 1,
        ] {
            let data = payload(len);
            let blobs = encode(&data);
            assert_eq!(blobs.len(), blobs_needed(len), "len {len}");
            assert_eq!(decode(&blobs).unwrap(), data, "len {len}");
        }
    }

    #[test]
    fn rejects_what_the_driver_rejects() {
        let mut blob = encode(&payload(100)).remove(0);
        blob[1] = 1;
        assert!(matches!(
            decode(std::slice::from_ref(&blob)),
            Err(BlobDecodeError::Version { found: 1, .. })
        ));

        let mut blob = encode(&payload(100)).remove(0);
        blob[2..5].copy_from_slice(&[0xff, 0xff, 0xff]);
        assert!(matches!(
            decode(std::slice::from_ref(&blob)),
            Err(BlobDecodeError::Length { .. })
        ));

        let mut blob = encode(&payload(100)).remove(0);
        blob[32 * 7] |= 0x80;
        assert!(matches!(
            decode(std::slice::from_ref(&blob)),
            Err(BlobDecodeError::FieldElement { fe: 7, .. })
        ));

        let mut blob = encode(&payload(100)).remove(0);
        blob[32 * 100 + 5] = 1;
        assert!(matches!(
            decode(std::slice::from_ref(&blob)),
            Err(BlobDecodeError::TrailingData { len: 100, .. })
        ));

        assert_eq!(decode(&[]), Err(BlobDecodeError::Empty));
    }
}
