//! What the prover client is told: the proof system and how proofs are requested (leaf module).

use std::time::Duration;

use common::secret::Secret;
use url::Url;

/// The proof system Raiko runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofType {
    /// SP1 (flag 0b100).
    Sp1,
    /// RISC Zero (flag 0b10).
    Risc0,
    /// ZisK (flag 0b1000).
    Zisk,
}

impl ProofType {
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "sp1" => Ok(Self::Sp1),
            "risc0" => Ok(Self::Risc0),
            "zisk" => Ok(Self::Zisk),
            _ => Err("expected sp1, risc0 or zisk".into()),
        }
    }

    /// The name Raiko's `proof_type` field takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sp1 => "sp1",
            Self::Risc0 => "risc0",
            Self::Zisk => "zisk",
        }
    }

    /// The SurgeVerifier bit flag (protocol.md §2).
    pub fn flag(self) -> u8 {
        match self {
            Self::Risc0 => 0b10,
            Self::Sp1 => 0b100,
            Self::Zisk => 0b1000,
        }
    }
}

/// Bit flag of the mock-ECDSA verifier.
pub const MOCK_ECDSA_FLAG: u8 = 1;

/// How proofs are requested.
#[derive(Debug, Clone)]
pub struct ProverConfig {
    /// Raiko base URL.
    pub url: Url,
    /// `X-API-KEY`.
    pub api_key: Option<Secret<String>>,
    /// Proof system.
    pub proof_type: ProofType,
    /// Between polls.
    pub poll_interval: Duration,
    /// Most polls.
    pub max_polls: u64,
    /// Per HTTP request.
    pub request_timeout: Duration,
    /// Per proof, polls included.
    pub deadline: Duration,
    /// Requests per proposal.
    pub attempts: u32,
    /// Raiko's `use_cache`.
    pub use_cache: bool,
    /// Requests a minute at most.
    pub max_requests_per_minute: usize,
    /// The `SubProof` flag the proof is sent under.
    pub flag: u8,
}
