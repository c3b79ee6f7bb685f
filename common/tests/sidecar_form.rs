//! The L1 sidecar must be the EIP-7594 v1 (cell-proof) form. anvil under Osaka also accepts the
//! v0 (one blob proof per blob) form, so the devnet alone would not catch a regression to v0.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use alloy::eips::{
    eip4844::{AsCkzg, c_kzg},
    eip7594::{BlobTransactionSidecarVariant, CELLS_PER_EXT_BLOB},
};
use common::{codec::blob::MAX_BLOB_PAYLOAD, sidecar};

#[tokio::test]
async fn sidecar_is_v1_with_verifiable_cell_proofs() {
    let payload: Vec<u8> = (0..MAX_BLOB_PAYLOAD + 10)
        .map(|i| (i % 253) as u8)
        .collect();
    let car = sidecar::build(&payload).await.unwrap();
    // The build time is exported.
    let exported = common::metrics::registry()
        .gather()
        .into_iter()
        .find(|f| f.name() == "preconfer_sidecar_build_seconds")
        .expect("sidecar_build_seconds is registered");
    assert_eq!(
        exported.get_metric()[0].get_histogram().get_sample_count(),
        1
    );
    assert_eq!(car.blobs.len(), 2);
    assert_eq!(car.commitments.len(), 2);
    // v0 carries one proof per blob; v1 carries one per cell of the extended blob.
    assert_eq!(car.cell_proofs.len(), 2 * CELLS_PER_EXT_BLOB);

    // The network form starts its sidecar fields with wrapper version 1.
    let variant = BlobTransactionSidecarVariant::Eip7594(car.clone());
    assert!(variant.is_eip7594());
    let mut fields = Vec::new();
    variant.rlp_encode_fields(&mut fields);
    assert_eq!(fields[0], 0x01, "EIP-7594 wrapper version byte");

    // Every cell proof verifies against its blob's cells and commitment.
    let settings = sidecar::load_trusted_setup();
    for (b, blob) in car.blobs.iter().enumerate() {
        let (cells, _) = settings
            .compute_cells_and_kzg_proofs(blob.as_ckzg())
            .unwrap();
        let commitments = vec![*car.commitments[b].as_ckzg(); CELLS_PER_EXT_BLOB];
        let indices: Vec<u64> = (0..CELLS_PER_EXT_BLOB as u64).collect();
        let proofs: Vec<c_kzg::Bytes48> = car.cell_proofs
            [b * CELLS_PER_EXT_BLOB..(b + 1) * CELLS_PER_EXT_BLOB]
            .iter()
            .map(|p| *p.as_ckzg())
            .collect();
        assert!(
            settings
                .verify_cell_kzg_proof_batch(&commitments, &indices, cells.as_ref(), &proofs)
                .unwrap(),
            "blob {b}: cell proofs verify"
        );
    }
    // A proof of a different blob does not.
    let (cells0, _) = settings
        .compute_cells_and_kzg_proofs(car.blobs[0].as_ckzg())
        .unwrap();
    let wrong: Vec<c_kzg::Bytes48> = car.cell_proofs[CELLS_PER_EXT_BLOB..2 * CELLS_PER_EXT_BLOB]
        .iter()
        .map(|p| *p.as_ckzg())
        .collect();
    let commitments0 = vec![*car.commitments[0].as_ckzg(); CELLS_PER_EXT_BLOB];
    let indices: Vec<u64> = (0..CELLS_PER_EXT_BLOB as u64).collect();
    assert!(
        !settings
            .verify_cell_kzg_proof_batch(&commitments0, &indices, cells0.as_ref(), &wrong)
            .unwrap_or(false)
    );
}
