//! The L1 slot clock from the beacon API: the heartbeat starts on an L1 slot boundary so that
//! blocks line up with L1 slots (catalyst-reference §2 "Main loop timing").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use url::Url;

/// Genesis time and slot length of the L1 beacon chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotClock {
    /// Unix time of slot 0.
    pub genesis_time: u64,
    /// Slot length.
    pub slot: Duration,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Genesis {
    genesis_time: String,
}

#[derive(Deserialize)]
struct Spec {
    #[serde(rename = "SECONDS_PER_SLOT")]
    seconds_per_slot: Option<String>,
}

impl SlotClock {
    /// The slot a unix time (seconds) falls in.
    pub fn slot_at(&self, unix: u64) -> u64 {
        unix.saturating_sub(self.genesis_time) / self.slot.as_secs().max(1)
    }

    /// Reads genesis and (when the beacon serves it) the slot length; `fallback_slot` otherwise.
    pub async fn fetch(
        http: &reqwest::Client,
        beacon: &Url,
        fallback_slot: Duration,
        timeout: Duration,
    ) -> Result<Self, String> {
        let base = beacon.as_str().trim_end_matches('/');
        let get = |path: &str| http.get(format!("{base}{path}")).timeout(timeout).send();
        let genesis: Data<Genesis> = get("/eth/v1/beacon/genesis")
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("beacon genesis: {}", common::rpc::error_chain(&e)))?
            .json()
            .await
            .map_err(|e| format!("beacon genesis: {e}"))?;
        let genesis_time = genesis
            .data
            .genesis_time
            .parse()
            .map_err(|e| format!("beacon genesis_time: {e}"))?;
        let slot = match get("/eth/v1/config/spec").await {
            Ok(r) => r
                .json::<Data<Spec>>()
                .await
                .ok()
                .and_then(|s| s.data.seconds_per_slot?.parse().ok())
                .filter(|s: &u64| *s > 0)
                .map_or(fallback_slot, Duration::from_secs),
            Err(_) => fallback_slot,
        };
        Ok(Self { genesis_time, slot })
    }

    /// Time from `now` until the next slot starts (zero before genesis ends never happens on a
    /// live chain; before genesis it is the time to genesis).
    pub fn until_next_slot(&self, now: SystemTime) -> Duration {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let genesis = Duration::from_secs(self.genesis_time);
        if now < genesis {
            return genesis - now;
        }
        let slot_ns = self.slot.as_nanos().max(1);
        let since = (now - genesis).as_nanos();
        let rest = slot_ns - since % slot_ns;
        Duration::from_nanos(rest as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_slot_boundary() {
        let clock = SlotClock {
            genesis_time: 1_000,
            slot: Duration::from_secs(12),
        };
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms);
        assert_eq!(
            clock.until_next_slot(at(1_000, 500)),
            Duration::from_millis(11_500)
        );
        assert_eq!(clock.until_next_slot(at(1_024, 0)), Duration::from_secs(12));
        assert_eq!(clock.until_next_slot(at(990, 0)), Duration::from_secs(10));
    }
}
