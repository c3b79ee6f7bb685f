//! What an outside client does to seal a forced inclusion to the rollup's public key (scheme
//! 0x02), written from the scheme's description (surge-taiko-mono `pkg/privacy/ecies.go`,
//! summarized in `docs/research/forced-inclusions.md` §4), not from the node's code:
//! `0x02 ‖ ephemeral public key (33) ‖ AES-256-GCM(K, zlib manifest) ‖ tag`, where
//! `K ‖ nonce = HKDF-SHA256(no salt, x(ephemeral secret · rollup key), "surge-fi-v1", 44)`.

use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce, aead::Aead};
use secp256k1::{PublicKey, Secp256k1, SecretKey, ecdh};

/// The rollup's public key for `secret`, as the client would be given it.
pub fn public_key(secret: [u8; 32]) -> PublicKey {
    SecretKey::from_byte_array(secret)
        .unwrap()
        .public_key(&Secp256k1::new())
}

/// Re-seals a plaintext payload (`frame(0x00 ‖ zlib(manifest))`) to `rollup` with the
/// one-time key `ephemeral`.
pub fn seal(plaintext_payload: &[u8], rollup: &PublicKey, ephemeral: [u8; 32]) -> Vec<u8> {
    assert_eq!(plaintext_payload[64], 0x00, "a plaintext payload");
    let compressed = &plaintext_payload[65..];
    let ephemeral = SecretKey::from_byte_array(ephemeral).unwrap();
    let shared = ecdh::shared_secret_point(rollup, &ephemeral);
    let mut okm = [0u8; 44];
    hkdf::Hkdf::<sha2::Sha256>::new(None, &shared[..32])
        .expand(b"surge-fi-v1", &mut okm)
        .unwrap();
    let key: [u8; 32] = okm[..32].try_into().unwrap();
    let nonce: [u8; 12] = okm[32..].try_into().unwrap();
    let sealed = Aes256Gcm::new(&Key::<Aes256Gcm>::from(key))
        .encrypt(&Nonce::from(nonce), compressed)
        .unwrap();
    let mut inner = vec![0x02];
    inner.extend_from_slice(&ephemeral.public_key(&Secp256k1::new()).serialize());
    inner.extend_from_slice(&sealed);
    let mut payload = [0u8; 32].to_vec();
    payload[31] = 1;
    let mut size = [0u8; 32];
    size[24..].copy_from_slice(&(inner.len() as u64).to_be_bytes());
    payload.extend_from_slice(&size);
    payload.extend(inner);
    payload
}
