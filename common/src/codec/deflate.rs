//! Deflate split across cores the way pigz does it: the input is cut into chunks, each chunk
//! is compressed on its own thread with the preceding 32 KiB of input preset as its dictionary,
//! and every chunk ends on a byte boundary (sync flush). The concatenation is one valid raw
//! deflate stream, as small as a single-threaded one but for a few bytes per chunk, because
//! no back-reference is lost at a chunk boundary.

use flate2::{Compress, Compression, FlushCompress};
use rayon::prelude::*;

/// Deflate's window: the farthest a back-reference reaches.
const WINDOW: usize = 32 * 1024;
/// Below this a chunk is not worth a thread.
const MIN_CHUNK: usize = 48 * 1024;
/// Largest stored block.
const STORED_MAX: usize = 65_535;

fn chunk_count(len: usize) -> usize {
    (len / MIN_CHUNK).clamp(1, rayon::current_num_threads())
}

/// The most [`continuing`] can output for `len` input bytes: zlib's `deflateBound` and a
/// sync-flush marker per chunk.
pub fn bound(len: usize) -> usize {
    len + (len >> 12) + (len >> 14) + (len >> 25) + (13 + 5) * chunk_count(len)
}

/// Raw deflate of `data` as the continuation of a stream whose uncompressed bytes so far end
/// with `history`; not final, ends on a byte boundary.
pub fn continuing(history: &[u8], data: &[u8], level: Compression) -> Vec<u8> {
    let chunks = chunk_count(data.len());
    let size = data.len().div_ceil(chunks).max(1);
    let starts: Vec<usize> = (0..data.len()).step_by(size).collect();
    let parts: Vec<Vec<u8>> = starts
        .par_iter()
        .map(|&start| {
            let chunk = &data[start..(start + size).min(data.len())];
            compress_chunk(&dictionary(history, data, start), chunk, level)
        })
        .collect();
    parts.concat()
}

/// A complete zlib stream (RFC 1950) of `data`, compressed in parallel.
pub fn zlib(data: &[u8], level: Compression) -> Vec<u8> {
    zlib_of(level, &[&continuing(&[], data, level)], adler32(&[data]))
}

/// A complete zlib stream from byte-aligned raw deflate `parts` (in order) whose uncompressed
/// bytes have Adler-32 `adler`.
pub fn zlib_of(level: Compression, parts: &[&[u8]], adler: u32) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len + 8);
    out.extend_from_slice(&zlib_header(level));
    for part in parts {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&FINAL_EMPTY_BLOCK);
    out.extend_from_slice(&adler.to_be_bytes());
    out
}

/// A final, empty block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block.
pub const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

/// The zlib header zlib itself writes for `level` (32 KiB window, no preset dictionary).
pub fn zlib_header(level: Compression) -> [u8; 2] {
    let flevel: u8 = match level.level() {
        0 | 1 => 0,
        2..=5 => 1,
        6 => 2,
        _ => 3,
    };
    let cmf: u8 = 0x78;
    let flg = flevel << 6;
    let check = (31 - ((u16::from(cmf) << 8 | u16::from(flg)) % 31)) % 31;
    [cmf, flg | check as u8]
}

/// Adler-32 of the concatenation of `parts`.
pub fn adler32(parts: &[&[u8]]) -> u32 {
    let mut adler = adler2::Adler32::new();
    for part in parts {
        adler.write_slice(part);
    }
    adler.checksum()
}

/// Adler-32 of `A ‖ B` from `adler32(A)`, `adler32(B)` and `B`'s length (zlib's
/// `adler32_combine`), so a stream's checksum is kept as it grows even when bytes are
/// prepended at the end.
pub fn adler32_combine(first: u32, second: u32, second_len: usize) -> u32 {
    const BASE: u64 = 65_521;
    let rem = second_len as u64 % BASE;
    let a1 = u64::from(first & 0xffff);
    let b1 = u64::from(first >> 16);
    let a2 = u64::from(second & 0xffff);
    let b2 = u64::from(second >> 16);
    let a = (a1 + a2 + BASE - 1) % BASE;
    let b = (rem * a1 + b1 + b2 + BASE - rem) % BASE;
    (a | (b << 16)) as u32
}

/// The last 32 KiB of `history ‖ data[..start]`.
fn dictionary(history: &[u8], data: &[u8], start: usize) -> Vec<u8> {
    let own = &data[start.saturating_sub(WINDOW)..start];
    let from_history = WINDOW - own.len();
    let mut dict = Vec::with_capacity(WINDOW);
    dict.extend_from_slice(&history[history.len().saturating_sub(from_history)..]);
    dict.extend_from_slice(own);
    dict
}

fn compress_chunk(dict: &[u8], chunk: &[u8], level: Compression) -> Vec<u8> {
    try_compress(dict, chunk, level).unwrap_or_else(|_| stored(chunk))
}

fn try_compress(
    dict: &[u8],
    chunk: &[u8],
    level: Compression,
) -> Result<Vec<u8>, flate2::CompressError> {
    let mut z = Compress::new(level, false);
    if !dict.is_empty() {
        z.set_dictionary(dict)?;
    }
    // zlib's deflateBound plus room for the sync-flush marker.
    let mut out = Vec::with_capacity(chunk.len() + (chunk.len() >> 12) + (chunk.len() >> 14) + 64);
    loop {
        let consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        z.compress_vec(
            &chunk[consumed.min(chunk.len())..],
            &mut out,
            FlushCompress::Sync,
        )?;
        // The flush is complete once zlib returns with output space to spare.
        if z.total_in() as usize >= chunk.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(out.capacity().max(64));
    }
}

/// `chunk` as stored blocks: always valid, used only if zlib reports an error (it reports
/// errors only for invalid parameters, which would be a bug here).
fn stored(chunk: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() + 5 * (chunk.len() / STORED_MAX + 1));
    for piece in chunk.chunks(STORED_MAX) {
        let len = piece.len() as u16;
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Compressible but not trivial: repeated words with a counter.
    fn text(len: usize, seed: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut i = seed;
        while out.len() < len {
            i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            out.extend_from_slice(format!("tx{} to 0x{:04x} ", i % 97, (i >> 8) % 4096).as_bytes());
        }
        out.truncate(len);
        out
    }

    fn inflate(zlib: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(zlib)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn parallel_zlib_round_trips_and_costs_almost_nothing_over_one_thread() {
        for len in [0, 1, 100, MIN_CHUNK - 1, MIN_CHUNK * 2 + 7, 400_000] {
            let data = text(len, len as u32);
            let ours = zlib(&data, Compression::default());
            assert_eq!(inflate(&ours), data, "len {len}");
            let mut one = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
            std::io::Write::write_all(&mut one, &data).unwrap();
            let one = one.finish().unwrap();
            assert!(
                ours.len() <= one.len() + 64,
                "len {len}: {} vs {}",
                ours.len(),
                one.len()
            );
        }
    }

    #[test]
    fn continuation_uses_the_history_and_concatenates() {
        let first = text(70_000, 1);
        let second = text(150_000, 2);
        let mut stream = zlib_header(Compression::default()).to_vec();
        stream.extend(continuing(&[], &first, Compression::default()));
        stream.extend(continuing(&first, &second, Compression::default()));
        stream.extend_from_slice(&FINAL_EMPTY_BLOCK);
        stream.extend_from_slice(&adler32(&[&first, &second]).to_be_bytes());
        assert_eq!(inflate(&stream), [first, second].concat());
    }

    #[test]
    fn stored_fallback_is_valid_deflate() {
        let data = text(150_000, 3);
        let mut stream = zlib_header(Compression::none()).to_vec();
        stream.extend(stored(&data));
        stream.extend_from_slice(&FINAL_EMPTY_BLOCK);
        stream.extend_from_slice(&adler32(&[&data]).to_be_bytes());
        assert_eq!(inflate(&stream), data);
    }

    #[test]
    fn adler32_combine_matches_one_pass() {
        let data = text(200_000, 4);
        for split in [0, 1, 17, 65_520, 65_521, 65_522, 131_042, 199_999, 200_000] {
            let (a, b) = data.split_at(split);
            assert_eq!(
                adler32_combine(adler32(&[a]), adler32(&[b]), b.len()),
                adler32(&[&data]),
                "split {split}"
            );
        }
    }

    #[test]
    fn headers_match_zlibs() {
        for level in [0, 1, 3, 6, 9] {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), Compression::new(level));
            std::io::Write::write_all(&mut z, b"x").unwrap();
            assert_eq!(
                z.finish().unwrap()[..2],
                zlib_header(Compression::new(level)),
                "level {level}"
            );
        }
    }
}
