//! Privacy mode (protocol.md §7, Appendix A): the compressed manifest `M` travels as
//! `0x01 ‖ nonce(12) ‖ AES-256-GCM(key, M) ‖ tag(16)` inside the usual frame, with a fresh
//! random nonce per payload and no associated data, as Catalyst's `build_blob_payload` does.
//! A forced inclusion's payload may instead be sealed to the rollup's public key (scheme 0x02,
//! [`decrypt_forced`]).

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, AeadCore, KeyInit, OsRng},
};

use crate::codec::payload::{self, PayloadError, Scheme};

/// Bytes encryption adds to a payload: the nonce and the tag.
pub const OVERHEAD: usize = NONCE_LEN + 16;
const NONCE_LEN: usize = 12;

/// Why a payload could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The payload is not a valid frame.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// Only a plaintext payload can be encrypted.
    #[error("payload scheme {0:?} cannot be encrypted (expected plaintext)")]
    NotPlaintext(Scheme),
    /// Only a scheme-0x01 payload can be decrypted.
    #[error("payload scheme {0:?} is not AES-256-GCM")]
    NotEncrypted(Scheme),
    /// The configured secret is not a valid secp256k1 key.
    #[error("SURGE_PRIVACY_FI_PRIVKEY is not a valid secp256k1 secret key")]
    Key,
    /// Wrong key, or the bytes were altered.
    #[error(
        "AES-256-GCM authentication failed (wrong SURGE_PRIVACY_SYMMETRIC_KEY or damaged payload)"
    )]
    Aead,
}

/// Turns a plaintext payload `frame(0x00 ‖ M)` into `frame(0x01 ‖ nonce ‖ AES-GCM(M) ‖ tag)`.
pub fn encrypt(plaintext_payload: &[u8], key: &[u8; 32]) -> Result<Vec<u8>, PrivacyError> {
    let (scheme, m) = payload::scheme(payload::unframe(plaintext_payload)?)?;
    if scheme != Scheme::Plaintext {
        return Err(PrivacyError::NotPlaintext(scheme));
    }
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = cipher.encrypt(&nonce, m).map_err(|_| PrivacyError::Aead)?;
    let mut inner = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    inner.push(Scheme::Aes256Gcm as u8);
    inner.extend_from_slice(&nonce);
    inner.extend_from_slice(&sealed);
    Ok(payload::frame(&inner))
}

/// The compressed manifest inside an encrypted payload.
pub fn decrypt(encrypted_payload: &[u8], key: &[u8; 32]) -> Result<Vec<u8>, PrivacyError> {
    let (scheme, body) = payload::scheme(payload::unframe(encrypted_payload)?)?;
    if scheme != Scheme::Aes256Gcm {
        return Err(PrivacyError::NotEncrypted(scheme));
    }
    if body.len() < OVERHEAD {
        return Err(PrivacyError::Aead);
    }
    let (nonce, sealed) = body.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| PrivacyError::Aead)?;
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key))
        .decrypt(&Nonce::from(nonce), sealed)
        .map_err(|_| PrivacyError::Aead)
}

/// The HKDF `info` of forced-inclusion privacy (surge-taiko-mono `pkg/privacy/ecies.go`,
/// NethermindEth/raiko `lib/src/privacy/ecies.rs`).
const FI_INFO: &[u8] = b"surge-fi-v1";
/// A compressed secp256k1 public key.
const EPHEMERAL_LEN: usize = 33;

/// The compressed manifest inside a forced inclusion's encrypted payload, scheme 0x02:
/// `frame(0x02 ‖ ephemeral public key (33, compressed) ‖ AES-256-GCM(K, M) ‖ tag)` where
/// `K ‖ nonce = HKDF-SHA256(salt ∅, x-coordinate of secret·ephemeral, "surge-fi-v1", 44 bytes)`.
pub fn decrypt_forced(
    encrypted_payload: &[u8],
    secret: &[u8; 32],
) -> Result<Vec<u8>, PrivacyError> {
    let (scheme, body) = payload::scheme(payload::unframe(encrypted_payload)?)?;
    if scheme != Scheme::Ecies {
        return Err(PrivacyError::NotEncrypted(scheme));
    }
    let (ephemeral, sealed) = body
        .split_at_checked(EPHEMERAL_LEN)
        .ok_or(PrivacyError::Aead)?;
    let secret = secp256k1::SecretKey::from_byte_array(*secret).map_err(|_| PrivacyError::Key)?;
    let ephemeral = secp256k1::PublicKey::from_slice(ephemeral).map_err(|_| PrivacyError::Aead)?;
    let point = secp256k1::ecdh::shared_secret_point(&ephemeral, &secret);
    let mut okm = [0u8; 44];
    hkdf::Hkdf::<sha2::Sha256>::new(None, &point[..32])
        .expand(FI_INFO, &mut okm)
        .map_err(|_| PrivacyError::Aead)?;
    let (key, nonce) = okm.split_at(32);
    let key: [u8; 32] = key.try_into().map_err(|_| PrivacyError::Aead)?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| PrivacyError::Aead)?;
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(key))
        .decrypt(&Nonce::from(nonce), sealed)
        .map_err(|_| PrivacyError::Aead)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an outside client does (ecies.go `Encrypt`), to check the layout round-trips.
    fn encrypt_forced(m: &[u8], public: &secp256k1::PublicKey, ephemeral: [u8; 32]) -> Vec<u8> {
        let ephemeral = secp256k1::SecretKey::from_byte_array(ephemeral).unwrap();
        let point = secp256k1::ecdh::shared_secret_point(public, &ephemeral);
        let mut okm = [0u8; 44];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &point[..32])
            .expand(FI_INFO, &mut okm)
            .unwrap();
        let key: [u8; 32] = okm[..32].try_into().unwrap();
        let nonce: [u8; 12] = okm[32..].try_into().unwrap();
        let sealed = Aes256Gcm::new(&Key::<Aes256Gcm>::from(key))
            .encrypt(&Nonce::from(nonce), m)
            .unwrap();
        let secp = secp256k1::Secp256k1::new();
        let mut inner = vec![Scheme::Ecies as u8];
        inner.extend_from_slice(&ephemeral.public_key(&secp).serialize());
        inner.extend_from_slice(&sealed);
        payload::frame(&inner)
    }

    #[test]
    fn a_forced_inclusion_sealed_to_the_key_opens_with_it_and_no_other() {
        let secp = secp256k1::Secp256k1::new();
        let secret = [5u8; 32];
        let public = secp256k1::SecretKey::from_byte_array(secret)
            .unwrap()
            .public_key(&secp);
        let m = payload::compress(b"forced manifest");
        let sealed = encrypt_forced(&m, &public, [9u8; 32]);
        assert_eq!(sealed[64], 0x02, "scheme byte");
        assert_eq!(
            payload::unframe(&sealed).unwrap().len(),
            1 + 33 + m.len() + 16
        );
        assert_eq!(decrypt_forced(&sealed, &secret).unwrap(), m);
        assert!(matches!(
            decrypt_forced(&sealed, &[6u8; 32]),
            Err(PrivacyError::Aead)
        ));
        assert!(matches!(
            decrypt_forced(&payload::plaintext(&m), &secret),
            Err(PrivacyError::NotEncrypted(_))
        ));
        assert!(matches!(
            decrypt_forced(&sealed, &[0u8; 32]),
            Err(PrivacyError::Key)
        ));
    }

    #[test]
    fn encrypted_layout_round_trips_with_a_fresh_nonce() {
        let key = [7u8; 32];
        let m = payload::compress(b"manifest bytes");
        let plain = payload::plaintext(&m);
        let a = encrypt(&plain, &key).unwrap();
        let b = encrypt(&plain, &key).unwrap();
        assert_ne!(a, b, "each payload gets its own nonce");
        assert_eq!(a.len(), plain.len() + OVERHEAD);
        assert_eq!(a[31], 1, "frame version");
        assert_eq!(a[64], 0x01, "scheme byte");
        let inner = payload::unframe(&a).unwrap();
        assert_eq!(inner.len(), 1 + 12 + m.len() + 16);
        assert_eq!(decrypt(&a, &key).unwrap(), m);
        assert!(matches!(decrypt(&a, &[8u8; 32]), Err(PrivacyError::Aead)));
        assert!(matches!(
            decrypt(&plain, &key),
            Err(PrivacyError::NotEncrypted(_))
        ));
        assert!(matches!(
            encrypt(&a, &key),
            Err(PrivacyError::NotPlaintext(_))
        ));
    }
}
