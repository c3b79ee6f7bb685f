//! Privacy mode (protocol.md §7, Appendix A): the compressed manifest `M` travels as
//! `0x01 ‖ nonce(12) ‖ AES-256-GCM(key, M) ‖ tag(16)` inside the usual frame, with a fresh
//! random nonce per payload and no associated data, as Catalyst's `build_blob_payload` does.

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

#[cfg(test)]
mod tests {
    use super::*;

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
