//! The codecs against the shared protocol vectors (`PROTOCOL_VECTORS` or
//! `../shared/testdata/protocol-vectors.json`): blob packing, manifest RLP, zlib, payload frame,
//! sidecar commitments and the golden-touch anchor tx. Every expected value comes from the file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use alloy::{
    consensus::{TxEnvelope, transaction::SignerRecoverable},
    eips::{
        Decodable2718, Encodable2718, eip4844::builder::SidecarBuilder,
        eip7594::BlobTransactionSidecarEip7594,
    },
    hex,
    primitives::{Address, B256, U256, keccak256},
};
use bindings::Checkpoint;
use common::{
    anchor::{self, AnchorParams},
    codec::{
        blob::{self, KonaBlobCoder},
        manifest::{BlockManifest, DerivationSourceManifest},
        payload,
    },
};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn vectors() -> Value {
    let path = bindings::vectors::path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn num(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

fn b256(v: &Value) -> B256 {
    v.as_str().unwrap().parse().unwrap()
}

fn hex_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_lowercase())
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    format!("0x{}", hex::encode(Sha256::digest(data)))
}

/// Blobs, commitments and versioned hashes of a payload, built through alloy's sidecar builder.
fn sidecar(payload: &[u8]) -> BlobTransactionSidecarEip7594 {
    SidecarBuilder::<KonaBlobCoder>::from_slice(payload)
        .build_7594()
        .unwrap()
}

fn check_sidecar(label: &str, payload: &[u8], expected: &Value) {
    let car = sidecar(payload);
    assert_eq!(
        car.blobs.len() as u64,
        num(&expected["numBlobs"]),
        "{label}: blob count"
    );
    let shas: Vec<String> = car.blobs.iter().map(|b| sha256_hex(b.as_slice())).collect();
    assert_eq!(
        shas,
        hex_list(&expected["blobSha256"]),
        "{label}: blob bytes"
    );
    let commitments: Vec<String> = car
        .commitments
        .iter()
        .map(|c| format!("0x{}", hex::encode(c)))
        .collect();
    assert_eq!(
        commitments,
        hex_list(&expected["kzgCommitments"]),
        "{label}: commitments"
    );
    let hashes: Vec<String> = car.versioned_hashes().map(|h| h.to_string()).collect();
    assert_eq!(
        hashes,
        hex_list(&expected["versionedHashes"]),
        "{label}: versioned hashes"
    );
    assert_eq!(
        blob::decode(&car.blobs).unwrap(),
        payload,
        "{label}: decode round trip"
    );
}

#[test]
fn conformance_blob_coder() {
    let v = vectors();
    let cases = v["blob_coder"]["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let len = num(&case["payloadLength"]) as usize;
        let data: Vec<u8> = (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect();
        assert_eq!(
            sha256_hex(&data),
            case["payloadSha256"].as_str().unwrap(),
            "payload formula"
        );
        let blobs = blob::encode(&data);
        let first96 = bytes(&case["blob0First96"]);
        assert_eq!(
            &blobs[0][..first96.len()],
            &first96[..],
            "len {len}: first bytes"
        );
        check_sidecar(&format!("len {len}"), &data, case);
    }
}

fn manifest_from_vectors(m: &Value) -> DerivationSourceManifest {
    let txs: Vec<TxEnvelope> = m["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let tx = TxEnvelope::decode_2718(&mut bytes(&t["raw2718"]).as_slice()).unwrap();
            assert_eq!(*tx.tx_hash(), b256(&t["txHash"]), "tx hash");
            let signer: Address = t["signerAddress"].as_str().unwrap().parse().unwrap();
            assert_eq!(tx.recover_signer().unwrap(), signer, "tx signer");
            tx
        })
        .collect();
    let blocks = m["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| BlockManifest {
            timestamp: num(&b["timestamp"]),
            coinbase: b["coinbase"].as_str().unwrap().parse().unwrap(),
            anchor_block_number: num(&b["anchorBlockNumber"]),
            gas_limit: num(&b["gasLimit"]),
            transactions: b["txIndices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| txs[num(i) as usize].clone())
                .collect(),
        })
        .collect();
    DerivationSourceManifest { blocks }
}

#[test]
fn conformance_manifest_rlp_zlib_frame_and_blob() {
    let v = vectors();
    let m = &v["manifest"];
    let manifest = manifest_from_vectors(m);

    let rlp = manifest.rlp();
    assert_eq!(rlp, bytes(&m["rlp"]), "manifest RLP");
    assert_eq!(keccak256(&rlp), b256(&m["rlpKeccak256"]));
    assert_eq!(
        DerivationSourceManifest::from_rlp(&rlp).unwrap(),
        manifest,
        "RLP decode"
    );

    let compressed = payload::compress(&rlp);
    assert_eq!(
        compressed,
        bytes(&m["zlibFlate2DefaultLevel"]),
        "zlib bytes"
    );
    assert_eq!(
        payload::frame(&compressed),
        bytes(&m["encodeAndCompressOutput"])
    );

    let blob_payload = manifest.plaintext_payload();
    assert_eq!(
        blob_payload,
        bytes(&m["blobPayloadScheme0"]),
        "scheme-0 payload"
    );
    assert_eq!(
        blob_payload.len() as u64,
        num(&m["blobPayloadScheme0Length"])
    );
    assert_eq!(
        DerivationSourceManifest::from_plaintext_payload(&blob_payload).unwrap(),
        manifest,
        "payload decode"
    );
    check_sidecar("manifest", &blob_payload, &m["blob"]);
}

#[test]
fn conformance_golden_touch_anchor_tx() {
    let v = vectors();
    let a = &v["anchor_tx"];
    assert_eq!(
        a["goldenTouchAddress"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        anchor::GOLDEN_TOUCH_ADDRESS
    );
    assert_eq!(
        b256(&a["goldenTouchPrivateKey"]),
        anchor::GOLDEN_TOUCH_PRIVATE_KEY
    );
    let cases = a["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let i = &case["inputs"];
        assert_eq!(num(&i["gasLimit"]), anchor::ANCHOR_GAS_LIMIT);
        assert_eq!(num(&i["maxPriorityFeePerGas"]), 0);
        assert_eq!(num(&i["value"]), 0);
        let cp = &i["checkpoint"];
        let params = AnchorParams {
            chain_id: num(&i["l2ChainId"]),
            nonce: num(&i["nonce"]),
            base_fee: u128::from(num(&i["maxFeePerGas"])),
            anchor: i["to"].as_str().unwrap().parse().unwrap(),
            checkpoint: Checkpoint {
                blockNumber: alloy::primitives::Uint::from(num(&cp["blockNumber"])),
                blockHash: b256(&cp["blockHash"]),
                stateRoot: b256(&cp["stateRoot"]),
            },
            signal_slots: i["signalSlots"]
                .as_array()
                .unwrap()
                .iter()
                .map(b256)
                .collect(),
        };
        let unsigned = anchor::unsigned(&params);
        assert_eq!(
            unsigned.input.to_vec(),
            bytes(&case["calldata"]),
            "anchor calldata"
        );
        use alloy::consensus::SignableTransaction;
        assert_eq!(
            unsigned.signature_hash(),
            b256(&case["signingHash"]),
            "signing hash"
        );

        let sig = anchor::sign_fixed_k(unsigned.signature_hash());
        let expected = &case["signature"];
        assert_eq!(sig.r(), U256::from_be_bytes(b256(&expected["r"]).0), "r");
        assert_eq!(sig.s(), U256::from_be_bytes(b256(&expected["s"]).0), "s");
        assert_eq!(u64::from(sig.v()), num(&expected["yParity"]), "y parity");

        let signed = anchor::signed(&params);
        assert_eq!(
            signed.encoded_2718(),
            bytes(&case["rawSignedTx"]),
            "raw anchor tx"
        );
        assert_eq!(*signed.tx_hash(), b256(&case["txHash"]));
        let sender: Address = case["recoveredSender"].as_str().unwrap().parse().unwrap();
        assert_eq!(signed.recover_signer().unwrap(), sender);
    }
}

fn checkpoint(v: &Value) -> Checkpoint {
    Checkpoint {
        blockNumber: alloy::primitives::Uint::from(num(&v["blockNumber"])),
        blockHash: b256(&v["blockHash"]),
        stateRoot: b256(&v["stateRoot"]),
    }
}

#[test]
fn conformance_commitment_hashes() {
    use bindings::{BlobSlice, DerivationSource, Proposal};
    use common::commitment;
    let v = vectors();
    let h = &v["hashes"];
    let b256s = |x: &Value| -> Vec<B256> { x.as_array().unwrap().iter().map(b256).collect() };
    for case in h["hashSignalSlots"].as_array().unwrap() {
        assert_eq!(
            commitment::signal_slots_hash(&b256s(&case["slots"])),
            b256(&case["hash"])
        );
    }
    let p = &h["hashProposal"]["proposal"];
    let proposal = Proposal {
        maxAnchorBlockNumber: alloy::primitives::Uint::from(num(&p["maxAnchorBlockNumber"])),
        maxAnchorBlockHash: b256(&p["maxAnchorBlockHash"]),
        basefeeSharingPctg: num(&p["basefeeSharingPctg"]) as u8,
        sources: p["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| DerivationSource {
                isForcedInclusion: s["isForcedInclusion"].as_bool().unwrap(),
                blobSlice: BlobSlice {
                    blobHashes: b256s(&s["blobSlice"]["blobHashes"]),
                    offset: alloy::primitives::Uint::from(num(&s["blobSlice"]["offset"])),
                    timestamp: alloy::primitives::Uint::from(num(&s["blobSlice"]["timestamp"])),
                },
            })
            .collect(),
        signalSlotsHash: b256(&p["signalSlotsHash"]),
    };
    assert_eq!(
        commitment::proposal_hash(&proposal),
        b256(&h["hashProposal"]["hash"])
    );
    let c = &h["hashCommitment"]["commitment"];
    assert_eq!(
        commitment::commitment_hash(
            b256(&c["proposalHash"]),
            b256(&c["lastFinalizedBlockHash"]),
            &checkpoint(&c["checkpoint"])
        ),
        b256(&h["hashCommitment"]["hash"])
    );
    let m = &h["mockProof"];
    assert_eq!(
        commitment::public_input(
            num(&m["l2ChainId"]),
            m["verifierAddress"].as_str().unwrap().parse().unwrap(),
            b256(&m["commitmentHash"])
        ),
        b256(&m["publicInput"])
    );
}

/// Deterministic bytes from a seed (xorshift), so a failing case is reproducible from its seed.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    seed |= 1;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn conformance_blob_decode_encode_edges() {
    // The vectors' blob count rule, then the exact one-blob/two-blob boundary.
    for len in [
        0, 1, 27, 28, 127, 131, 130_043, 130_044, 130_045, 260_088, 260_089,
    ] {
        let data = noise(len, len as u64);
        let blobs = blob::encode(&data);
        assert_eq!(blobs.len(), blob::blobs_needed(len), "len {len}");
        assert_eq!(blob::decode(&blobs).unwrap(), data, "len {len}");
    }
    assert_eq!(blob::encode(&noise(130_044, 1)).len(), 1);
    assert_eq!(blob::encode(&noise(130_045, 1)).len(), 2);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// decode(encode(x)) = x for random payloads, lengths clustered at the blob boundaries.
    #[test]
    fn conformance_blob_decode_encode_property(
        len in proptest::prop_oneof![
            0usize..600,
            130_000usize..130_100,
            260_040usize..260_140,
        ],
        seed in proptest::prelude::any::<u64>(),
    ) {
        let data = noise(len, seed);
        let blobs = blob::encode(&data);
        proptest::prop_assert_eq!(blobs.len(), blob::blobs_needed(len));
        proptest::prop_assert_eq!(blob::decode(&blobs).unwrap(), data);
    }
}

/// Our parallel sidecar gives the vectors' commitments and versioned hashes, and alloy's proofs.
#[tokio::test]
async fn conformance_parallel_sidecar_matches_vectors() {
    let v = vectors();
    for case in v["blob_coder"]["cases"].as_array().unwrap() {
        let len = num(&case["payloadLength"]) as usize;
        let data: Vec<u8> = (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect();
        let ours = common::sidecar::build(&data).await.unwrap();
        let reference = sidecar(&data);
        assert_eq!(ours, reference, "len {len}");
        let hashes: Vec<String> = ours
            .versioned_hashes()
            .map(|h| h.to_string().to_lowercase())
            .collect();
        assert_eq!(hashes, hex_list(&case["versionedHashes"]), "len {len}");
    }
}
