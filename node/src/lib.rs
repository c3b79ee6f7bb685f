//! The `preconfer` binary's parts: command line, logging, the health server and the run sequence.

pub mod app;
pub mod cli;
pub mod health_server;
pub mod logging;

use std::process::ExitCode;

use clap::Parser;

/// Parses `.env`, the environment and the command line, runs the node and maps the outcome to an
/// exit code: 0 clean stop, 1 runtime failure, 2 configuration error.
pub fn main_entry() -> ExitCode {
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: cannot load .env: {e}");
        return ExitCode::from(2);
    }
    // clap prints usage errors itself and exits with code 2 (0 for --help / --version).
    let cli = cli::Cli::parse();
    logging::init(&cli.logging);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(app::run(cli));
    // Tasks still running now (a stuck RPC, say) must not hold the process past the deadline.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // Configuration errors go to stderr as plain text, so even RUST_LOG=off shows them;
        // runtime failures go through the log like everything else the node reports.
        Err(e @ (app::NodeError::Config(_) | app::NodeError::Store(_))) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
        Err(e) => {
            tracing::error!(error = %e, "preconfer stopped");
            e.exit_code()
        }
    }
}
