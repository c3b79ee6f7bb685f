//! EIP-7594 (cell-proof) sidecars for a blob payload. The trusted setup is parsed once, on a
//! blocking thread ([`trusted_setup`]; seconds in a debug build): async callers wait for it
//! without holding a runtime worker. Each blob's commitment and 128 cell proofs are computed on
//! its own blocking thread, so a 6-blob sidecar costs about one blob's time per core.

use std::sync::{Arc, OnceLock};

use prometheus::{Histogram, HistogramOpts};

use alloy::eips::{
    eip4844::{AsAlloy, AsCkzg, Blob, Bytes48, c_kzg},
    eip7594::BlobTransactionSidecarEip7594,
};

use crate::codec::blob;

/// Why a sidecar could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// c-kzg refused a blob (a non-canonical field element: an encoder bug).
    #[error("KZG computation for blob {blob} failed: {message}")]
    Kzg {
        /// Index of the blob.
        blob: usize,
        /// c-kzg's error.
        message: String,
    },
    /// The blocking task died (panicked or the runtime is shutting down).
    #[error("KZG task for blob {blob} did not finish: {message}")]
    Task {
        /// Index of the blob.
        blob: usize,
        /// Why.
        message: String,
    },
}

/// The Ethereum mainnet trusted setup, parsed on first use and kept for the process' lifetime.
/// Call it at start-up so the first proposal does not pay the ~100 ms parse.
pub fn load_trusted_setup() -> &'static c_kzg::KzgSettings {
    alloy::eips::eip4844::env_settings::EnvKzgSettings::Default.get()
}

/// The trusted setup, parsed on a blocking thread the first time (later callers wait for that
/// parse without blocking a runtime worker).
pub async fn trusted_setup() -> Result<&'static c_kzg::KzgSettings, SidecarError> {
    static READY: tokio::sync::OnceCell<&'static c_kzg::KzgSettings> =
        tokio::sync::OnceCell::const_new();
    READY
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(load_trusted_setup)
                .await
                .map_err(|e| SidecarError::Task {
                    blob: 0,
                    message: format!("loading the KZG trusted setup: {e}"),
                })
        })
        .await
        .copied()
}

/// One blob's commitment and cell proofs.
pub fn commit_blob(
    settings: &c_kzg::KzgSettings,
    blob: &Blob,
) -> Result<(Bytes48, Vec<Bytes48>), c_kzg::Error> {
    let ckzg = blob.as_ckzg();
    let commitment = settings.blob_to_kzg_commitment(ckzg)?;
    let (_cells, proofs) = settings.compute_cells_and_kzg_proofs(ckzg)?;
    Ok((
        Bytes48::from_ckzg(commitment.to_bytes()),
        c_kzg::KzgProof::slice_as_alloy(proofs.as_ref()).to_vec(),
    ))
}

/// Sidecar build time, on the process-wide registry.
#[allow(clippy::expect_used)] // a static definition: a failure is a programming error
fn build_seconds() -> &'static Histogram {
    static HISTOGRAM: OnceLock<Histogram> = OnceLock::new();
    HISTOGRAM.get_or_init(|| {
        let opts = HistogramOpts::new(
            "sidecar_build_seconds",
            "EIP-7594 sidecar build time: commitments and cell proofs of all blobs",
        )
        .buckets(vec![
            0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0,
        ]);
        crate::metrics::register(
            crate::metrics::registry(),
            Histogram::with_opts(opts).expect("valid metric definition"),
        )
    })
}

/// Packs `payload` into blobs and builds the v1 (cell-proof) sidecar, blobs in parallel.
pub async fn build(payload: &[u8]) -> Result<BlobTransactionSidecarEip7594, SidecarError> {
    let blobs: Arc<Vec<Blob>> = Arc::new(blob::encode(payload));
    build_from_blobs(blobs).await
}

/// Runs `kzg` for every blob on its own blocking thread; the results in blob order.
async fn per_blob<T, F>(blobs: &Arc<Vec<Blob>>, kzg: F) -> Result<Vec<T>, SidecarError>
where
    T: Send + 'static,
    F: Fn(usize, &Blob) -> Result<T, c_kzg::Error> + Clone + Send + 'static,
{
    let tasks: Vec<_> = (0..blobs.len())
        .map(|i| {
            let blobs = blobs.clone();
            let kzg = kzg.clone();
            tokio::task::spawn_blocking(move || kzg(i, &blobs[i]))
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.into_iter().enumerate() {
        out.push(
            task.await
                .map_err(|e| SidecarError::Task {
                    blob: i,
                    message: e.to_string(),
                })?
                .map_err(|e| SidecarError::Kzg {
                    blob: i,
                    message: format!("{e:?}"),
                })?,
        );
    }
    Ok(out)
}

/// The KZG commitments of packed blobs, in parallel (about a sixth of a sidecar's cost): enough
/// for the versioned hashes a prover needs while the cell proofs are still being computed.
pub async fn commitments(blobs: Arc<Vec<Blob>>) -> Result<Vec<Bytes48>, SidecarError> {
    let settings = trusted_setup().await?;
    per_blob(&blobs, move |_, blob| {
        settings
            .blob_to_kzg_commitment(blob.as_ckzg())
            .map(|c| Bytes48::from_ckzg(c.to_bytes()))
    })
    .await
}

/// The EIP-4844 versioned hash of each commitment.
pub fn versioned_hashes(commitments: &[Bytes48]) -> Vec<alloy::primitives::B256> {
    commitments
        .iter()
        .map(|c| alloy::eips::eip4844::kzg_to_versioned_hash(c.as_slice()))
        .collect()
}

/// Builds the sidecar of already packed blobs, blobs in parallel on the blocking pool.
pub async fn build_from_blobs(
    blobs: Arc<Vec<Blob>>,
) -> Result<BlobTransactionSidecarEip7594, SidecarError> {
    build_with_commitments(blobs, None).await
}

/// As [`build_from_blobs`], reusing commitments computed earlier ([`commitments`]).
pub async fn build_with_commitments(
    blobs: Arc<Vec<Blob>>,
    known: Option<Vec<Bytes48>>,
) -> Result<BlobTransactionSidecarEip7594, SidecarError> {
    let settings = trusted_setup().await?;
    let _timer = build_seconds().start_timer();
    let known = Arc::new(known);
    let per = per_blob(&blobs, move |i, blob| {
        match known.as_ref().as_ref().and_then(|k| k.get(i)) {
            Some(commitment) => {
                settings
                    .compute_cells_and_kzg_proofs(blob.as_ckzg())
                    .map(|(_, proofs)| {
                        (
                            *commitment,
                            c_kzg::KzgProof::slice_as_alloy(proofs.as_ref()).to_vec(),
                        )
                    })
            }
            None => commit_blob(settings, blob),
        }
    })
    .await?;
    let mut commitments = Vec::with_capacity(blobs.len());
    let mut proofs = Vec::with_capacity(blobs.len() * c_kzg::CELLS_PER_EXT_BLOB);
    for (commitment, cell_proofs) in per {
        commitments.push(commitment);
        proofs.extend(cell_proofs);
    }
    let blobs = Arc::try_unwrap(blobs).unwrap_or_else(|shared| (*shared).clone());
    Ok(BlobTransactionSidecarEip7594::new(
        blobs,
        commitments,
        proofs,
    ))
}
