//! Fork choice by `*_TIMESTAMP_SEC`, with Catalyst's rule: at any moment the highest-ranked fork
//! whose timestamp has passed is the active one (Shasta < Permissionless < Realtime). This build
//! implements only Realtime, so a schedule that would make another fork active while this node runs
//! is refused at start-up instead of silently sequencing the wrong protocol.

use std::time::Duration;

use crate::config::parse::{ConfigError, parse_bounded};

/// Catalyst's default for fork timestamps that are not active: year 5138.
pub const FAR_FUTURE: u64 = 99_999_999_999;

fn parse_timestamp(raw: &str) -> Result<u64, String> {
    parse_bounded(raw, 0, FAR_FUTURE, "seconds since the Unix epoch")
}

/// Fork timestamps as flags and environment variables.
#[derive(Debug, Clone, clap::Args)]
pub struct ForkArgs {
    /// Unix time at which the realtime fork (this node) activates
    #[arg(long, env = "REALTIME_TIMESTAMP_SEC", value_name = "REALTIME_TIMESTAMP_SEC",
          default_value = "99999999999", value_parser = parse_timestamp, hide_env_values = true)]
    pub realtime_timestamp_sec: u64,

    /// Unix time of the Shasta fork; unset by default. This build refuses a schedule in which Shasta would be active
    #[arg(long, env = "SHASTA_TIMESTAMP_SEC", value_name = "SHASTA_TIMESTAMP_SEC",
          value_parser = parse_timestamp, hide_env_values = true)]
    pub shasta_timestamp_sec: Option<u64>,

    /// Unix time of the Permissionless fork; unset by default. Refused, like Shasta, if it would be active
    #[arg(long, env = "PERMISSIONLESS_TIMESTAMP_SEC", value_name = "PERMISSIONLESS_TIMESTAMP_SEC",
          value_parser = parse_timestamp, hide_env_values = true)]
    pub permissionless_timestamp_sec: Option<u64>,
}

impl ForkArgs {
    /// The schedule these arguments describe.
    pub fn schedule(&self) -> ForkSchedule {
        ForkSchedule {
            realtime: self.realtime_timestamp_sec,
            shasta: self.shasta_timestamp_sec,
            permissionless: self.permissionless_timestamp_sec,
        }
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it), the unit of fork timestamps.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The forks Catalyst knows, lowest rank first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fork {
    /// Shasta (not implemented here).
    Shasta,
    /// Permissionless preconfirmation (not implemented here).
    Permissionless,
    /// Surge real-time proving: this node.
    Realtime,
}

/// When each fork activates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkSchedule {
    /// Realtime activation.
    pub realtime: u64,
    /// Shasta activation, if configured.
    pub shasta: Option<u64>,
    /// Permissionless activation, if configured.
    pub permissionless: Option<u64>,
}

/// What the node does about the realtime fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkPlan {
    /// Realtime is active: start now.
    RunNow,
    /// Realtime activates later and nothing else is active meanwhile: wait, then start.
    StartAt {
        /// Activation time (Unix seconds).
        at_unix: u64,
        /// How long until then.
        wait: Duration,
    },
}

impl ForkSchedule {
    /// The active fork at Unix time `t`, if any.
    pub fn active_at(&self, t: u64) -> Option<Fork> {
        [
            (Fork::Realtime, Some(self.realtime)),
            (Fork::Permissionless, self.permissionless),
            (Fork::Shasta, self.shasta),
        ]
        .into_iter()
        .find_map(|(fork, ts)| ts.filter(|ts| *ts <= t).map(|_| fork))
    }

    /// Decides, at Unix time `now`, whether to run the realtime node now, later, or not at all.
    pub fn plan(&self, now: u64) -> Result<ForkPlan, ConfigError> {
        if self.realtime <= now {
            return Ok(ForkPlan::RunNow);
        }
        // Until realtime activates, a lower fork with an earlier timestamp would be the active one.
        for (var, fork, ts) in [
            (
                "PERMISSIONLESS_TIMESTAMP_SEC",
                "Permissionless",
                self.permissionless,
            ),
            ("SHASTA_TIMESTAMP_SEC", "Shasta", self.shasta),
        ] {
            if let Some(ts) = ts.filter(|ts| *ts < self.realtime) {
                return Err(ConfigError::Invalid {
                    var,
                    shown: ts.to_string(),
                    expected: format!(
                        "a time no earlier than REALTIME_TIMESTAMP_SEC={} (or unset): this value makes the {fork} \
                         fork active before the realtime fork, and this build implements only the realtime fork",
                        self.realtime
                    ),
                });
            }
        }
        Ok(ForkPlan::StartAt {
            at_unix: self.realtime,
            wait: Duration::from_secs(self.realtime - now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(realtime: u64, shasta: Option<u64>, permissionless: Option<u64>) -> ForkSchedule {
        ForkSchedule {
            realtime,
            shasta,
            permissionless,
        }
    }

    #[test]
    fn realtime_in_the_past_runs_now_whatever_the_others_say() {
        let s = schedule(0, Some(0), Some(0));
        assert_eq!(s.plan(1_000), Ok(ForkPlan::RunNow));
        assert_eq!(s.active_at(1_000), Some(Fork::Realtime));
    }

    #[test]
    fn realtime_in_the_future_waits_the_exact_time() {
        let s = schedule(1_500, None, None);
        assert_eq!(
            s.plan(1_000),
            Ok(ForkPlan::StartAt {
                at_unix: 1_500,
                wait: Duration::from_secs(500)
            })
        );
        assert_eq!(s.active_at(1_000), None);
    }

    #[test]
    fn an_unimplemented_fork_active_before_realtime_is_refused() {
        let err = schedule(1_500, Some(0), None).plan(1_000).unwrap_err();
        assert!(err.to_string().contains("SHASTA_TIMESTAMP_SEC=0"), "{err}");
        assert!(
            err.to_string()
                .contains("implements only the realtime fork")
        );
        let err = schedule(1_500, None, Some(1_200)).plan(1_000).unwrap_err();
        assert!(
            err.to_string().contains("PERMISSIONLESS_TIMESTAMP_SEC"),
            "{err}"
        );
        // Scheduled at or after realtime: realtime outranks it, so it never becomes active.
        assert!(
            schedule(1_500, Some(1_500), Some(2_000))
                .plan(1_000)
                .is_ok()
        );
    }
}
