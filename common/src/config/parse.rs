//! The configuration's error and the value parsers every fork's settings share (leaf module: the
//! fork schedule and the realtime settings use it without the settings themselves).

use alloy::primitives::Address;
use url::Url;

/// Why the configuration was rejected; the binary prints it and exits with code 2.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A variable holds a value that cannot be used.
    #[error("invalid {var}={shown}: expected {expected}")]
    Invalid {
        /// The environment variable.
        var: &'static str,
        /// The rejected value, redacted when it is a secret.
        shown: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A required variable is not set.
    #[error("{var} is not set: {expected}")]
    Missing {
        /// The environment variable.
        var: &'static str,
        /// What to set.
        expected: String,
    },
    /// Two variables that mean the same thing disagree.
    #[error("{first} and {second} are both set to different values: set only one of them")]
    Conflict {
        /// One variable.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
}

/// Parses an RPC URL (http, https, ws or wss).
pub fn parse_rpc_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim())
        .map_err(|e| format!("expected an http(s):// or ws(s):// URL ({e})"))?;
    match url.scheme() {
        "http" | "https" | "ws" | "wss" => Ok(url),
        other => Err(format!(
            "expected an http(s):// or ws(s):// URL, got scheme '{other}'"
        )),
    }
}

/// Parses a whole number within `min..=max`, naming the unit in the error.
pub fn parse_bounded(raw: &str, min: u64, max: u64, unit: &str) -> Result<u64, String> {
    let expected = || format!("expected a whole number of {unit} from {min} to {max}");
    let value: u64 = raw.trim().parse().map_err(|_| expected())?;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(expected())
    }
}

/// Parses a 20-byte hex address (`0x` prefix optional).
pub fn parse_address(raw: &str) -> Result<Address, String> {
    raw.trim().parse::<Address>().map_err(|_| {
        "expected a 20-byte hex address such as 0x00000000000000000000000000000000000000aa".into()
    })
}
