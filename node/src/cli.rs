//! The command line: every setting is a flag and an environment variable; `--help` lists them all.

use common::config::CommonArgs;
use realtime::config::RealtimeArgs;

use crate::logging::LogArgs;

/// preconfer: a preconfirmation node for Surge-style real-time based rollups.
///
/// Every option can also be set through the environment variable shown next to it, or in a
/// `.env` file in the working directory.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "preconfer", version)]
pub struct Cli {
    /// Fork-agnostic settings.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Realtime fork settings.
    #[command(flatten)]
    pub realtime: RealtimeArgs,
    /// Logging.
    #[command(flatten)]
    pub logging: LogArgs,
    /// Fault injection for tests.
    #[command(flatten)]
    pub faults: common::faults::FaultArgs,
}

/// Every environment variable the binary reads, in `--help` order.
pub fn env_vars() -> Vec<String> {
    use clap::CommandFactory;
    Cli::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}
