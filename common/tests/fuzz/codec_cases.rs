//! The inputs of the codec targets (blob, frame, manifest, privacy). Most are an encoder's
//! output, then damaged or not, so one target checks both the round trip and that damage gives
//! an error; the rest are any bytes.

use std::sync::LazyLock;

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, KeyInit},
};
use alloy::eips::eip4844::{BYTES_PER_BLOB, Blob};
use common::codec::{
    blob::{self, MAX_BLOB_PAYLOAD},
    deflate,
    manifest::DerivationSourceManifest,
    payload,
};
use flate2::Compression;
use proptest::{collection::vec, prelude::*, sample::select};

use crate::fuzz::{
    manifests::{self, Rlp, TreeEdit},
    mutation::{self, Mutation, mutated},
};

/// No mutation (the round trip) or a few.
fn maybe_mutations() -> BoxedStrategy<Vec<Mutation>> {
    mutation::maybe(1, 3, 4)
}

/// Bytes a manifest compresses to or from: random, repetitive (back-references and dynamic
/// Huffman tables) or text-like.
fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..300),
        (vec(any::<u8>(), 1..6), 1..300usize).prop_map(|(unit, n)| unit.repeat(n)),
        "[a-f0-9 ]{0,500}".prop_map(String::into_bytes),
    ]
}

/// A blob payload: literal bytes, or a long generated one (kept short in a failure report).
#[derive(Debug, Clone)]
pub enum Payload {
    /// These bytes.
    Bytes(Vec<u8>),
    /// `len` bytes from `seed`.
    Pattern { len: usize, seed: u8 },
}

impl Payload {
    /// The payload's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Payload::Bytes(bytes) => bytes.clone(),
            Payload::Pattern { len, seed } => (0..*len)
                .map(|i| (i as u8).wrapping_mul(*seed) ^ (i >> 9) as u8)
                .collect(),
        }
    }
}

/// One or more blobs for the blob decoder.
#[derive(Debug, Clone)]
pub enum BlobCase {
    /// The encoder's blobs for `payload`, then `mutations` on their concatenation.
    Encoded {
        payload: Payload,
        mutations: Vec<Mutation>,
    },
    /// `count` blobs of noise; every field element's first byte masked with `top_mask`, and a
    /// version-0 header declaring `len` when there is one.
    Noise {
        seed: u64,
        top_mask: u8,
        len: Option<u32>,
        count: u8,
    },
}

impl BlobCase {
    /// The blobs, built in place: a blob is 128 KiB, and a few copies of one on a debug
    /// build's stack overflow a test thread's.
    pub fn blobs(&self) -> Vec<Blob> {
        match self {
            BlobCase::Encoded { payload, mutations } => {
                let blobs = blob::encode(&payload.bytes());
                if mutations.is_empty() {
                    return blobs;
                }
                let joined: Vec<u8> = blobs.iter().flat_map(|b| b.as_slice()).copied().collect();
                let damaged = mutated(&joined, mutations);
                let mut out = vec![Blob::ZERO; damaged.len().div_ceil(BYTES_PER_BLOB)];
                for (blob, chunk) in out.iter_mut().zip(damaged.chunks(BYTES_PER_BLOB)) {
                    blob[..chunk.len()].copy_from_slice(chunk);
                }
                out
            }
            BlobCase::Noise {
                seed,
                top_mask,
                len,
                count,
            } => {
                let mut state = seed | 1;
                let mut out = vec![Blob::ZERO; usize::from(*count)];
                for blob in &mut out {
                    for byte in blob.iter_mut() {
                        // xorshift64: noise fast enough for 128 KiB per blob.
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        *byte = state as u8;
                    }
                    for fe in blob.chunks_mut(32) {
                        fe[0] &= top_mask;
                    }
                    if let Some(len) = len {
                        blob[1] = 0;
                        blob[2..5].copy_from_slice(&len.to_be_bytes()[1..]);
                    }
                }
                out
            }
        }
    }
}

/// Inputs of the blob target.
pub fn blob_case() -> BoxedStrategy<BlobCase> {
    let payload = prop_oneof![
        4 => vec(any::<u8>(), 0..400).prop_map(Payload::Bytes),
        1 => (MAX_BLOB_PAYLOAD - 3..=MAX_BLOB_PAYLOAD + 3, any::<u8>())
            .prop_map(|(len, seed)| Payload::Pattern { len, seed }),
        1 => (0..=2 * MAX_BLOB_PAYLOAD + 50, any::<u8>())
            .prop_map(|(len, seed)| Payload::Pattern { len, seed }),
    ];
    let len = prop_oneof![
        Just(None),
        (0..=MAX_BLOB_PAYLOAD as u32 + 2).prop_map(Some),
        any::<u32>().prop_map(|n| Some(n & 0x00ff_ffff)),
    ];
    prop_oneof![
        4 => (payload, maybe_mutations())
            .prop_map(|(payload, mutations)| BlobCase::Encoded { payload, mutations }),
        1 => (any::<u64>(), select(vec![0x00u8, 0x3f, 0xff]), len, 0..=2u8).prop_map(
            |(seed, top_mask, len, count)| BlobCase::Noise { seed, top_mask, len, count }
        ),
    ]
    .boxed()
}

/// Inputs of the frame target.
#[derive(Debug, Clone)]
pub enum FrameCase {
    /// `frame(scheme ‖ zlib(data)) ‖ trailing`, then `mutations`.
    Valid {
        data: Vec<u8>,
        scheme: u8,
        level: u32,
        trailing: Vec<u8>,
        mutations: Vec<Mutation>,
    },
    /// A correct frame around a damaged zlib stream: the damage reaches the inflater.
    Zlib {
        data: Vec<u8>,
        level: u32,
        mutations: Vec<Mutation>,
    },
    /// A header with any version and size words.
    Header {
        version: [u8; 32],
        size: [u8; 32],
        body: Vec<u8>,
    },
    /// Any bytes.
    Raw(Vec<u8>),
}

impl FrameCase {
    /// The framed bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            FrameCase::Valid {
                data,
                scheme,
                level,
                trailing,
                mutations,
            } => {
                let mut inner = vec![*scheme];
                inner.extend(deflate::zlib(data, Compression::new(*level)));
                let mut framed = payload::frame(&inner);
                framed.extend_from_slice(trailing);
                mutated(&framed, mutations)
            }
            FrameCase::Zlib {
                data,
                level,
                mutations,
            } => payload::plaintext(&mutated(
                &deflate::zlib(data, Compression::new(*level)),
                mutations,
            )),
            FrameCase::Header {
                version,
                size,
                body,
            } => [&version[..], &size[..], body].concat(),
            FrameCase::Raw(bytes) => bytes.clone(),
        }
    }
}

/// A 32-byte word: zero, a valid frame word with one byte changed, or any.
fn word(valid: u64) -> impl Strategy<Value = [u8; 32]> {
    let exact = move |n: u64| {
        let mut word = [0u8; 32];
        word[24..].copy_from_slice(&n.to_be_bytes());
        word
    };
    prop_oneof![
        Just(exact(valid)),
        (0..32usize, any::<u8>()).prop_map(move |(i, b)| {
            let mut word = exact(valid);
            word[i] = b;
            word
        }),
        (0..600u64).prop_map(exact),
        any::<[u8; 32]>(),
    ]
}

/// Inputs of the frame target.
pub fn frame_case() -> BoxedStrategy<FrameCase> {
    let scheme = prop_oneof![4 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => any::<u8>()];
    let trailing = prop_oneof![3 => Just(Vec::new()), 1 => vec(any::<u8>(), 1..40)];
    prop_oneof![
        4 => (data(), scheme, 0..=9u32, trailing, maybe_mutations()).prop_map(
            |(data, scheme, level, trailing, mutations)| FrameCase::Valid {
                data, scheme, level, trailing, mutations,
            }
        ),
        3 => (data(), 0..=9u32, mutation::mutations(4))
            .prop_map(|(data, level, mutations)| FrameCase::Zlib { data, level, mutations }),
        1 => (word(1), word(100), vec(any::<u8>(), 0..120))
            .prop_map(|(version, size, body)| FrameCase::Header { version, size, body }),
        1 => mutation::any_bytes().prop_map(FrameCase::Raw),
    ]
    .boxed()
}

/// Inputs of the manifest target.
#[derive(Debug, Clone)]
pub enum ManifestCase {
    /// Encode three ways (RLP, plaintext payload, the node's stream with a block's txs
    /// deflated on their own where `shared`) and decode.
    RoundTrip {
        manifest: DerivationSourceManifest,
        shared: Vec<bool>,
    },
    /// The RLP with bytes changed.
    MutatedRlp {
        manifest: DerivationSourceManifest,
        mutations: Vec<Mutation>,
    },
    /// The plaintext payload with bytes changed.
    MutatedPayload {
        manifest: DerivationSourceManifest,
        mutations: Vec<Mutation>,
    },
    /// The RLP tree with nodes changed (well-formed RLP of the wrong shape).
    EditedTree {
        manifest: DerivationSourceManifest,
        edits: Vec<TreeEdit>,
    },
    /// Any RLP tree.
    AnyTree(Rlp),
    /// Any bytes.
    Raw(Vec<u8>),
}

/// Inputs of the manifest target.
pub fn manifest_case() -> BoxedStrategy<ManifestCase> {
    use manifests::manifest;
    prop_oneof![
        2 => (manifest(), vec(any::<bool>(), 4))
            .prop_map(|(manifest, shared)| ManifestCase::RoundTrip { manifest, shared }),
        3 => (manifest(), mutation::mutations(4))
            .prop_map(|(manifest, mutations)| ManifestCase::MutatedRlp { manifest, mutations }),
        1 => (manifest(), mutation::mutations(3))
            .prop_map(|(manifest, mutations)| ManifestCase::MutatedPayload { manifest, mutations }),
        3 => (manifest(), manifests::tree_edits(3))
            .prop_map(|(manifest, edits)| ManifestCase::EditedTree { manifest, edits }),
        1 => manifests::rlp_tree().prop_map(ManifestCase::AnyTree),
        1 => mutation::any_bytes().prop_map(ManifestCase::Raw),
    ]
    .boxed()
}

/// Inputs of the privacy target.
#[derive(Debug, Clone)]
pub enum PrivacyCase {
    /// `m` sealed with `key` (scheme 0x01), then `mutations`; `wrong` must not open it.
    Aes {
        key: [u8; 32],
        wrong: [u8; 32],
        m: Vec<u8>,
        mutations: Vec<Mutation>,
    },
    /// `m` sealed to `secret`'s public key with `ephemeral` (scheme 0x02), then `mutations`.
    Ecies {
        secret: [u8; 32],
        ephemeral: [u8; 32],
        m: Vec<u8>,
        mutations: Vec<Mutation>,
    },
    /// Any framed bytes, opened with `key` as both kinds of key.
    Raw { framed: Vec<u8>, key: [u8; 32] },
}

/// A secp256k1 secret: any 32 bytes, or the invalid ones (zero, the group order, above it).
fn secret() -> impl Strategy<Value = [u8; 32]> {
    const ORDER: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    prop_oneof![
        6 => any::<[u8; 32]>(),
        1 => Just([0u8; 32]),
        1 => Just(ORDER),
        1 => Just([0xff; 32]),
    ]
}

/// Inputs of the privacy target.
pub fn privacy_case() -> BoxedStrategy<PrivacyCase> {
    let framed = (0..4u8, vec(any::<u8>(), 0..120), maybe_mutations()).prop_map(
        |(scheme, body, mutations)| {
            let inner = [&[scheme][..], &body].concat();
            mutated(&payload::frame(&inner), &mutations)
        },
    );
    let aes = (
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        data(),
        maybe_mutations(),
    )
        .prop_map(|(key, wrong, m, mutations)| PrivacyCase::Aes {
            key,
            wrong,
            m,
            mutations,
        });
    let ecies = (secret(), secret(), data(), maybe_mutations()).prop_map(
        |(secret, ephemeral, m, mutations)| PrivacyCase::Ecies {
            secret,
            ephemeral,
            m,
            mutations,
        },
    );
    let raw =
        (framed, any::<[u8; 32]>()).prop_map(|(framed, key)| PrivacyCase::Raw { framed, key });
    prop_oneof![2 => aes, 2 => ecies, 1 => raw].boxed()
}

static SECP: LazyLock<secp256k1::Secp256k1<secp256k1::All>> =
    LazyLock::new(secp256k1::Secp256k1::new);

/// What an outside client sends (surge-taiko-mono `pkg/privacy/ecies.go` `Encrypt`):
/// `frame(0x02 ‖ ephemeral public key ‖ AES-256-GCM(K, m) ‖ tag)`, `K ‖ nonce` from HKDF-SHA256
/// of the ECDH x-coordinate with info `surge-fi-v1`. `None` when either key is not a key.
pub fn encrypt_forced(m: &[u8], secret: &[u8; 32], ephemeral: &[u8; 32]) -> Option<Vec<u8>> {
    let public = secp256k1::SecretKey::from_byte_array(*secret)
        .ok()?
        .public_key(&SECP);
    let ephemeral = secp256k1::SecretKey::from_byte_array(*ephemeral).ok()?;
    let point = secp256k1::ecdh::shared_secret_point(&public, &ephemeral);
    let mut okm = [0u8; 44];
    hkdf::Hkdf::<sha2::Sha256>::new(None, &point[..32])
        .expand(b"surge-fi-v1", &mut okm)
        .ok()?;
    let key: [u8; 32] = okm[..32].try_into().ok()?;
    let nonce: [u8; 12] = okm[32..].try_into().ok()?;
    let sealed = Aes256Gcm::new(&Key::<Aes256Gcm>::from(key))
        .encrypt(&Nonce::from(nonce), m)
        .ok()?;
    let mut inner = vec![0x02];
    inner.extend_from_slice(&ephemeral.public_key(&SECP).serialize());
    inner.extend_from_slice(&sealed);
    Some(payload::frame(&inner))
}
