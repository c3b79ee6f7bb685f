//! Log output: `RUST_LOG` filtering and `LOG_FORMAT=text|json`.

use tracing_subscriber::EnvFilter;

/// The format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

fn parse_filter(raw: &str) -> Result<String, String> {
    EnvFilter::try_new(raw)
        .map(|_| raw.to_string())
        .map_err(|e| {
            format!("expected a tracing filter such as `info` or `realtime=debug,info` ({e})")
        })
}

/// Logging settings.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log filter (tracing EnvFilter syntax), e.g. info or realtime=debug,info
    #[arg(long, env = "RUST_LOG", value_name = "RUST_LOG", default_value = "info",
          value_parser = parse_filter, hide_env_values = true)]
    pub rust_log: String,

    /// Log line format
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_name = "LOG_FORMAT",
        default_value = "text",
        value_enum,
        hide_env_values = true
    )]
    pub log_format: LogFormat,
}

/// Installs the global subscriber. `rust_log` was validated by the parser.
pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_new(&args.rust_log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
