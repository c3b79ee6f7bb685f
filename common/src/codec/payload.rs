//! The blob payload around a compressed manifest: `bytes32(1) ‖ bytes32(len) ‖ scheme ‖ body`
//! (protocol.md §7 and Appendix A).

use std::io::{Read, Write};

use flate2::{Compression, read::ZlibDecoder, write::ZlibEncoder};

/// Frame version the realtime driver accepts.
pub const FRAME_VERSION: u8 = 1;
/// Bytes of the frame header (version word and length word).
pub const FRAME_HEADER: usize = 64;
/// Largest decompressed manifest we accept, so a hostile payload cannot exhaust memory.
pub const MAX_DECOMPRESSED: u64 = 64 * 1024 * 1024;

/// The scheme byte that starts the framed body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Scheme {
    /// `0x00 ‖ zlib(rlp(manifest))`.
    Plaintext = 0x00,
    /// `0x01 ‖ nonce(12) ‖ AES-256-GCM(zlib(rlp(manifest))) ‖ tag(16)`.
    Aes256Gcm = 0x01,
    /// `0x02 ‖ ephemeral key ‖ ciphertext ‖ tag` (forced inclusions).
    Ecies = 0x02,
}

/// Why a payload does not unwrap.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Shorter than the 64-byte frame header.
    #[error("payload is {0} bytes, shorter than the 64-byte frame header")]
    Truncated(usize),
    /// The version word is not `bytes32(1)`.
    #[error("frame version word is 0x{0}, expected bytes32(1)")]
    Version(String),
    /// The length word points past the end of the data.
    #[error("frame declares {declared} bytes but only {available} follow the header")]
    Size { declared: String, available: usize },
    /// The framed body is empty (no scheme byte).
    #[error("framed body is empty: no scheme byte")]
    NoScheme,
    /// A scheme byte the realtime driver does not know (a raw zlib stream starts with 0x78).
    #[error("unknown payload scheme byte 0x{0:02x}")]
    UnknownScheme(u8),
    /// A scheme this function cannot open (encrypted payloads need the key).
    #[error("payload scheme {0:?} is not plaintext")]
    NotPlaintext(Scheme),
    /// zlib failed or the stream is larger than [`MAX_DECOMPRESSED`].
    #[error("zlib: {0}")]
    Zlib(String),
}

/// Wraps `inner` (scheme byte included) in the version/length frame.
pub fn frame(inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + inner.len());
    out.extend_from_slice(&frame_header(inner.len()));
    out.extend_from_slice(inner);
    out
}

/// The frame's header for an inner payload (scheme byte included) of `inner_len` bytes.
pub fn frame_header(inner_len: usize) -> [u8; FRAME_HEADER] {
    let mut header = [0u8; FRAME_HEADER];
    header[31] = FRAME_VERSION;
    header[56..].copy_from_slice(&(inner_len as u64).to_be_bytes());
    header
}

/// The framed body, checked the way the driver checks it; bytes after it are ignored.
pub fn unframe(data: &[u8]) -> Result<&[u8], PayloadError> {
    if data.len() < FRAME_HEADER {
        return Err(PayloadError::Truncated(data.len()));
    }
    let (version, size) = (&data[..32], &data[32..64]);
    if version[..31].iter().any(|b| *b != 0) || version[31] != FRAME_VERSION {
        return Err(PayloadError::Version(alloy::hex::encode(version)));
    }
    let available = data.len() - FRAME_HEADER;
    let too_big = || PayloadError::Size {
        declared: format!("0x{}", alloy::hex::encode(size)),
        available,
    };
    if size[..24].iter().any(|b| *b != 0) {
        return Err(too_big());
    }
    let mut word = [0u8; 8];
    word.copy_from_slice(&size[24..]);
    let declared = usize::try_from(u64::from_be_bytes(word)).map_err(|_| too_big())?;
    if declared > available {
        return Err(too_big());
    }
    Ok(&data[FRAME_HEADER..FRAME_HEADER + declared])
}

/// Splits a framed body into its scheme and the bytes after the scheme byte.
pub fn scheme(body: &[u8]) -> Result<(Scheme, &[u8]), PayloadError> {
    let (&first, rest) = body.split_first().ok_or(PayloadError::NoScheme)?;
    let scheme = match first {
        0x00 => Scheme::Plaintext,
        0x01 => Scheme::Aes256Gcm,
        0x02 => Scheme::Ecies,
        other => return Err(PayloadError::UnknownScheme(other)),
    };
    Ok((scheme, rest))
}

/// zlib (RFC 1950) at the default level, as flate2 and the Go driver produce it.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// Inflates a zlib stream, refusing more than [`MAX_DECOMPRESSED`] bytes of output.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, PayloadError> {
    let mut out = Vec::new();
    ZlibDecoder::new(data)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| PayloadError::Zlib(e.to_string()))?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(PayloadError::Zlib(format!(
            "decompressed data exceeds {MAX_DECOMPRESSED} bytes"
        )));
    }
    Ok(out)
}

/// The plaintext payload for an already-compressed manifest `m`: `frame(0x00 ‖ m)`.
pub fn plaintext(compressed: &[u8]) -> Vec<u8> {
    let mut inner = Vec::with_capacity(1 + compressed.len());
    inner.push(Scheme::Plaintext as u8);
    inner.extend_from_slice(compressed);
    frame(&inner)
}

/// The compressed manifest inside a plaintext payload.
pub fn open_plaintext(payload: &[u8]) -> Result<Vec<u8>, PayloadError> {
    match scheme(unframe(payload)?)? {
        (Scheme::Plaintext, compressed) => decompress(compressed),
        (other, _) => Err(PayloadError::NotPlaintext(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips_and_rejects_bad_headers() {
        let framed = plaintext(&compress(b"manifest"));
        assert_eq!(open_plaintext(&framed).unwrap(), b"manifest");

        assert_eq!(unframe(&framed[..10]), Err(PayloadError::Truncated(10)));
        let mut bad = framed.clone();
        bad[31] = 2;
        assert!(matches!(unframe(&bad), Err(PayloadError::Version(_))));
        let mut bad = framed.clone();
        bad[63] = 0xff;
        assert!(matches!(unframe(&bad), Err(PayloadError::Size { .. })));
        let raw_zlib = frame(&compress(b"manifest"));
        assert_eq!(
            open_plaintext(&raw_zlib),
            Err(PayloadError::UnknownScheme(0x78))
        );
        assert_eq!(scheme(&[]), Err(PayloadError::NoScheme));
        assert!(matches!(
            open_plaintext(&frame(&[1, 2, 3])),
            Err(PayloadError::NotPlaintext(Scheme::Aes256Gcm))
        ));
        assert!(matches!(
            open_plaintext(&frame(&[0, 1, 2, 3])),
            Err(PayloadError::Zlib(_))
        ));
    }
}
