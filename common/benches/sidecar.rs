//! P1: EIP-7594 sidecar for a 6-blob payload. Compares, in one run:
//! - floor: c-kzg `blob_to_kzg_commitment` + `compute_cells_and_kzg_proofs` for the same blobs,
//!   spread over every core by plain threads (nothing else: no packing, no allocation of ours);
//! - ours: `common::sidecar::build_from_blobs` (blocking pool, one task per blob);
//! - alloy: `SidecarBuilder::<KonaBlobCoder>::from_slice(..).build_7594()`, single-threaded.
//!
//! Ends with `BENCH P1 ratio_to_floor=… ratio_to_alloy=…`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is the failure report

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::eips::eip4844::{AsCkzg, Blob, builder::SidecarBuilder};
use common::{
    codec::blob::{self, KonaBlobCoder, MAX_BLOB_PAYLOAD},
    sidecar,
};

const BLOBS: usize = 6;
const ROUNDS: usize = 12;

fn payload() -> Vec<u8> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    (0..BLOBS * MAX_BLOB_PAYLOAD)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn floor(blobs: &Arc<Vec<Blob>>, threads: usize) -> Duration {
    let settings = sidecar::load_trusted_setup();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(blob) = blobs.get(i) else { break };
                    let blob = blob.as_ckzg();
                    std::hint::black_box(settings.blob_to_kzg_commitment(blob).unwrap());
                    std::hint::black_box(settings.compute_cells_and_kzg_proofs(blob).unwrap());
                }
            });
        }
    });
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .build()
        .unwrap();
    let payload = payload();
    let blobs = Arc::new(blob::encode(&payload));
    assert_eq!(blobs.len(), BLOBS);
    sidecar::load_trusted_setup();

    let (mut f, mut ours, mut ours_full, mut alloy_single) = (vec![], vec![], vec![], vec![]);
    // Warm-up, then interleaved rounds so drift hits every variant alike.
    for round in 0..=ROUNDS {
        let f_time = floor(&blobs, threads);
        let started = Instant::now();
        let car = runtime
            .block_on(sidecar::build_from_blobs(blobs.clone()))
            .unwrap();
        let o_time = started.elapsed();
        let started = Instant::now();
        let full = runtime.block_on(sidecar::build(&payload)).unwrap();
        let full_time = started.elapsed();
        let started = Instant::now();
        let reference = SidecarBuilder::<KonaBlobCoder>::from_slice(&payload)
            .build_7594()
            .unwrap();
        let a_time = started.elapsed();
        assert_eq!(car, reference);
        assert_eq!(full, reference);
        if round > 0 {
            f.push(f_time);
            ours.push(o_time);
            ours_full.push(full_time);
            alloy_single.push(a_time);
        }
    }
    let (f, o, of, a) = (
        median(f),
        median(ours),
        median(ours_full),
        median(alloy_single),
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("threads={threads} blobs={BLOBS} rounds={ROUNDS} (medians)");
    println!("floor (c-kzg, all cores)        {:8.1} ms", ms(f));
    println!("ours (from blobs)               {:8.1} ms", ms(o));
    println!("ours (payload → blobs → sidecar){:8.1} ms", ms(of));
    println!("alloy build_7594 single-thread  {:8.1} ms", ms(a));
    println!(
        "BENCH P1 ratio_to_floor={:.3} ratio_to_floor_incl_packing={:.3} ratio_to_alloy={:.3} floor_ms={:.1} ours_ms={:.1} alloy_ms={:.1} threads={threads}",
        o.as_secs_f64() / f.as_secs_f64(),
        of.as_secs_f64() / f.as_secs_f64(),
        o.as_secs_f64() / a.as_secs_f64(),
        ms(f),
        ms(o),
        ms(a)
    );
}
