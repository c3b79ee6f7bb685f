//! The start-up log's view of the realtime configuration (secrets redacted).

use std::time::Duration;

use common::{codec::blob::MAX_BLOB_PAYLOAD, rpc::redact_url};

use super::{RealtimeConfig, prover::MOCK_ECDSA_FLAG};
use crate::credible_layer::config::CredibleLayerConfig;

impl RealtimeConfig {
    /// `VAR=value` pairs for the start-up log.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let ms = |d: Duration| d.as_millis().to_string();
        vec![
            ("REALTIME_INBOX_ADDRESS", self.inbox.to_string()),
            ("ANCHOR_ADDRESS", self.anchor.to_string()),
            ("L2_AUTH_RPC_URL", redact_url(&self.l2_auth_rpc_url)),
            ("L2_DRIVER_URL", redact_url(&self.l2_driver_url)),
            (
                "JWT_SECRET_FILE_PATH",
                self.jwt_secret_file.display().to_string(),
            ),
            (
                "RPC_DRIVER_PRECONF_TIMEOUT_MS",
                ms(self.driver_preconf_timeout),
            ),
            (
                "RPC_DRIVER_STATUS_TIMEOUT_MS",
                ms(self.driver_status_timeout),
            ),
            ("RPC_DRIVER_RETRY_TIMEOUT_MS", ms(self.driver_retry_budget)),
            ("L1_BEACON_URL", redact_url(&self.l1_beacon_url)),
            ("L1_SLOT_DURATION_SEC", self.l1_slot.as_secs().to_string()),
            ("PRECONF_ONLY", self.preconf_only.to_string()),
            ("PRECONF_MIN_TXS", self.block_policy.min_txs.to_string()),
            (
                "PRECONF_MAX_SKIPPED_L2_SLOTS",
                self.block_policy.max_skipped_slots.to_string(),
            ),
            (
                "BLOBS_PER_BATCH",
                (self.proposal_limits.max_payload_bytes / MAX_BLOB_PAYLOAD).to_string(),
            ),
            (
                "MAX_BLOCKS_PER_BATCH",
                self.proposal_limits.max_blocks.to_string(),
            ),
            (
                "MAX_TIME_SHIFT_BETWEEN_BLOCKS_SEC",
                self.proposal_limits.max_time_shift_sec.to_string(),
            ),
            (
                "MAX_ANCHOR_HEIGHT_OFFSET_REDUCTION_VALUE",
                (256 - self.proposal_limits.max_anchor_age).to_string(),
            ),
            (
                "PROPOSAL_SEAL_LEAD_MS",
                self.seal_lead.as_millis().to_string(),
            ),
            ("ANCHOR_L1_HEIGHT_LAG", self.anchor_lag.to_string()),
            (
                "MAX_BYTES_PER_TX_LIST",
                self.max_bytes_per_tx_list.to_string(),
            ),
            ("RAIKO_URL", redact_url(&self.prover.url)),
            (
                "RAIKO_API_KEY",
                if self.prover.api_key.is_some() {
                    "<redacted>"
                } else {
                    "unset"
                }
                .into(),
            ),
            ("PROOF_TYPE", self.prover.proof_type.name().into()),
            ("RAIKO_POLL_INTERVAL_MS", ms(self.prover.poll_interval)),
            ("RAIKO_MAX_RETRIES", self.prover.max_polls.to_string()),
            (
                "RAIKO_TIMEOUT_SEC",
                self.prover.request_timeout.as_secs().to_string(),
            ),
            (
                "RAIKO_DEADLINE_SEC",
                self.prover.deadline.as_secs().to_string(),
            ),
            ("PROOF_MAX_ATTEMPTS", self.prover.attempts.to_string()),
            ("RAIKO_USE_CACHE", self.prover.use_cache.to_string()),
            (
                "RAIKO_MAX_REQUESTS_PER_MIN",
                self.prover.max_requests_per_minute.to_string(),
            ),
            (
                "MOCK_MODE",
                (self.prover.flag == MOCK_ECDSA_FLAG).to_string(),
            ),
            ("SURGE_PRIVACY_MODE", self.privacy_key.is_some().to_string()),
            (
                "SURGE_PRIVACY_FI_PRIVKEY",
                if self.fi_privkey.is_some() {
                    "<redacted>"
                } else {
                    "unset"
                }
                .into(),
            ),
            ("MAX_PROPOSALS_IN_FLIGHT", self.max_in_flight.to_string()),
            ("FI_MAX_PER_PROPOSAL", self.fi_max_per_proposal.to_string()),
        ]
        .into_iter()
        .chain(self.bridge.describe())
        .chain(CredibleLayerConfig::describe(self.credible_layer.as_ref()))
        .collect()
    }
}
