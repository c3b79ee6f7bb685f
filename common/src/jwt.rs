//! The engine-API JWT that taiko-geth's auth RPC and the driver's REST API require:
//! HS256 over `{iat, exp}` with the shared 32-byte secret, sent as `Authorization: Bearer <JWT>`.
//! A token is minted per request, so an expired token can only come from a clock jump, and a
//! 401 is answered by one retry with a fresh token.

use std::{path::Path, time::Duration};

use alloy_rpc_types_engine::{Claims, JwtSecret};

use crate::secret::Secret;

/// Lifetime written into each token; the server checks `iat` within ±60 s anyway.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Why the secret could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error(
    "JWT_SECRET_FILE_PATH={path}: {reason} (expected a file holding 32 bytes as 64 hex digits, 0x optional)"
)]
pub struct JwtError {
    path: String,
    reason: String,
}

/// The shared secret; mints bearer tokens.
#[derive(Clone)]
pub struct JwtAuth {
    secret: Secret<JwtSecret>,
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtAuth(<redacted>)")
    }
}

impl JwtError {
    /// What is wrong with the file, without the variable name.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl JwtAuth {
    /// Reads the hex secret file.
    pub fn from_file(path: &Path) -> Result<Self, JwtError> {
        JwtSecret::from_file(path)
            .map(Self::new)
            .map_err(|e| JwtError {
                path: path.display().to_string(),
                // alloy's error names the problem but never echoes the file's contents.
                reason: e.to_string(),
            })
    }

    /// Wraps a secret already in memory.
    pub fn new(secret: JwtSecret) -> Self {
        Self {
            secret: Secret::new(secret),
        }
    }

    /// `Bearer <fresh token>`.
    pub fn bearer(&self) -> String {
        let iat = crate::fork::unix_now();
        let claims = Claims {
            iat,
            exp: Some(iat + TOKEN_LIFETIME.as_secs()),
        };
        // HS256 over a fixed-size key and a two-field claim set cannot fail to encode.
        let token = self.secret.expose().encode(&claims).unwrap_or_default();
        format!("Bearer {token}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_validate_against_the_same_secret_only() {
        let secret = JwtSecret::random();
        let auth = JwtAuth::new(secret);
        let bearer = auth.bearer();
        let token = bearer.strip_prefix("Bearer ").unwrap();
        assert!(secret.validate(token).is_ok());
        assert!(JwtSecret::random().validate(token).is_err());
        assert!(!format!("{auth:?}").contains(&alloy::hex::encode(secret.as_bytes())));
    }

    #[test]
    fn unreadable_or_malformed_files_name_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = JwtAuth::from_file(&dir.path().join("none")).unwrap_err();
        assert!(
            missing.to_string().contains("JWT_SECRET_FILE_PATH"),
            "{missing}"
        );
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "0xnothex-secretvalue").unwrap();
        let err = JwtAuth::from_file(&bad).unwrap_err().to_string();
        assert!(
            err.contains("JWT_SECRET_FILE_PATH") && !err.contains("secretvalue"),
            "{err}"
        );
    }
}
