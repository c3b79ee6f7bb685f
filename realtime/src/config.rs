//! Settings of the realtime fork (Catalyst's names).

use alloy::primitives::Address;
use common::config::{ConfigError, parse_address};

/// Realtime settings as `clap` reads them from flags and the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct RealtimeArgs {
    /// L1 RealTimeInbox contract address (required)
    #[arg(long, env = "REALTIME_INBOX_ADDRESS", value_name = "REALTIME_INBOX_ADDRESS",
          value_parser = parse_address, hide_env_values = true)]
    pub realtime_inbox_address: Option<Address>,
}

/// The validated realtime configuration.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    /// The L1 RealTimeInbox.
    pub inbox: Address,
}

impl RealtimeConfig {
    /// Checks required values.
    pub fn resolve(args: &RealtimeArgs) -> Result<Self, ConfigError> {
        let inbox = args.realtime_inbox_address.ok_or(ConfigError::Missing {
            var: "REALTIME_INBOX_ADDRESS",
            expected: "set it to the L1 RealTimeInbox contract address (0x…)".into(),
        })?;
        Ok(Self { inbox })
    }

    /// `VAR=value` pairs for the start-up log.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        vec![("REALTIME_INBOX_ADDRESS", self.inbox.to_string())]
    }
}
