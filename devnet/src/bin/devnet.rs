//! `devnet up|down|status`: the one-command local network (see `scripts/devnet`).

use std::{path::PathBuf, process::Stdio, time::Duration};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use devnet::{
    control::{self, Started, StateDir},
    credible::CredibleSidecar,
    network::{DEFAULT_L1_BLOCK_TIME, DEFAULT_PROOF_DELAY_MS, Devnet, Options},
};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Parser)]
#[command(about = "Local devnet: anvil L1/L2, protocol doubles, driver/Raiko/beacon stand-ins")]
struct Cli {
    /// State directory (env file, pids, logs).
    #[arg(long, env = "DEVNET_DIR", default_value = ".devnet")]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start everything in the background and print where to send user ops.
    Up(ServeArgs),
    /// Stop every process `up` started.
    Down,
    /// Say whether the devnet runs, and where.
    Status,
    /// Run in the foreground (what `up` starts).
    Serve(ServeArgs),
}

#[derive(Debug, Args, Clone)]
struct ServeArgs {
    /// Seconds between L1 blocks.
    #[arg(long, default_value_t = DEFAULT_L1_BLOCK_TIME, value_parser = clap::value_parser!(u64).range(1..=60))]
    l1_block_time: u64,
    /// Milliseconds the Raiko stand-in takes to prove.
    #[arg(long, default_value_t = DEFAULT_PROOF_DELAY_MS)]
    proof_delay_ms: u64,
    /// The preconfer binary to start against the devnet (none: chains and stand-ins only).
    #[arg(long)]
    preconfer: Option<PathBuf>,
    /// Also run the Credible Layer sidecar stand-in (demo assertion: the owner of
    /// OwnableTarget never changes) and point the node at it.
    #[arg(long)]
    credible_layer: bool,
}

impl ServeArgs {
    fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--l1-block-time={}", self.l1_block_time),
            format!("--proof-delay-ms={}", self.proof_delay_ms),
        ];
        if let Some(p) = &self.preconfer {
            args.push(format!("--preconfer={}", p.display()));
        }
        if self.credible_layer {
            args.push("--credible-layer".into());
        }
        args
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let dir = StateDir::new(cli.state_dir.clone());
    let outcome = match cli.command {
        Cmd::Up(args) => up(&dir, &args),
        Cmd::Down => {
            down(&dir);
            Ok(())
        }
        Cmd::Status => status(&dir),
        Cmd::Serve(args) => tokio::runtime::Runtime::new()
            .context("starting the runtime")
            .and_then(|rt| rt.block_on(serve(&dir, &args))),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devnet: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

const SUMMARY: [(&str, &str); 10] = [
    ("L1_RPC_URL", "L1 RPC"),
    ("L2_RPC_URL", "L2 RPC (send L2 txs here)"),
    (
        "BRIDGE_RPC_URL",
        "preconfer surge_* RPC (send user ops here)",
    ),
    ("L2_DRIVER_URL", "driver stand-in"),
    ("L2_AUTH_RPC_URL", "L2 auth RPC (JWT)"),
    ("RAIKO_URL", "Raiko stand-in"),
    ("CREDIBLE_LAYER_URL", "Credible Layer sidecar stand-in"),
    ("L1_BEACON_URL", "beacon API"),
    ("REALTIME_INBOX_ADDRESS", "RealTimeInbox"),
    ("PRECONFER_HEALTH_URL", "preconfer health"),
];

fn summary(dir: &StateDir) {
    let env = control::read_env(dir);
    for (key, label) in SUMMARY {
        if let Some((_, v)) = env.iter().find(|(k, _)| k == key) {
            println!("  {label:<44} {v}");
        }
    }
    println!(
        "  everything else (contracts, keys):            . {}",
        dir.env().display()
    );
}

fn up(dir: &StateDir, args: &ServeArgs) -> Result<()> {
    if let Some(main) = control::running(dir) {
        println!(
            "devnet is already running (pid {}); `scripts/devnet down` stops it",
            main.pid
        );
        summary(dir);
        return Ok(());
    }
    // Leftovers of a devnet that died without cleaning up.
    control::down(dir, Duration::from_secs(2));
    control::up(dir, &args.to_args(), Duration::from_secs(90))?;
    println!("devnet is up (logs in {})", dir.logs().display());
    summary(dir);
    Ok(())
}

fn down(dir: &StateDir) {
    let stopped = control::down(dir, Duration::from_secs(15));
    if stopped.is_empty() {
        println!("devnet is not running");
    } else {
        let names: Vec<String> = stopped
            .iter()
            .map(|s| format!("{} ({})", s.name, s.pid))
            .collect();
        println!("devnet stopped: {}", names.join(", "));
    }
}

fn status(dir: &StateDir) -> Result<()> {
    match control::running(dir) {
        Some(main) => {
            println!("devnet is running (pid {})", main.pid);
            for s in control::read_pids(dir) {
                let state = if control::alive(&s) {
                    "running"
                } else {
                    "exited"
                };
                println!("  {:<10} pid {:<8} {state}", s.name, s.pid);
            }
            summary(dir);
            Ok(())
        }
        None => {
            println!("devnet is not running");
            Ok(())
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn serve(dir: &StateDir, args: &ServeArgs) -> Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    std::fs::create_dir_all(dir.logs())?;
    let root = std::path::absolute(&dir.root)?;
    let dir = StateDir::new(root);
    let devnet = Devnet::start(&Options {
        l1_block_time: args.l1_block_time,
        jwt_path: dir.jwt(),
        proof_delay: Duration::from_millis(args.proof_delay_ms),
        raiko_api_key: None,
    })
    .await?;
    let bridge_url = url::Url::parse(&format!("http://127.0.0.1:{}", free_port()?))?;
    let health_port = free_port()?;
    let mut vars = devnet.env(&bridge_url);
    let mut started = vec![
        Started {
            name: "devnet".into(),
            pid: std::process::id(),
        },
        Started {
            name: "anvil-l1".into(),
            pid: devnet.l1.pid(),
        },
        Started {
            name: "anvil-l2".into(),
            pid: devnet.l2.pid(),
        },
    ];
    // Runs until the devnet stops (dropping it kills the stand-in).
    let _sidecar = if args.credible_layer {
        let sidecar =
            CredibleSidecar::start(&devnet.urls.l2_evm, devnet.contracts.ownable_target, 0)
                .context("starting the Credible Layer sidecar stand-in")?;
        vars.push((
            "CREDIBLE_LAYER_URL",
            sidecar.url.as_str().trim_end_matches('/').to_string(),
        ));
        vars.push(("CREDIBLE_LAYER_STATS_URL", sidecar.stats_url.to_string()));
        Some(sidecar)
    } else {
        None
    };
    let mut node = None;
    if let Some(bin) = &args.preconfer {
        // The chains are new: so is the node's data (ids, proposals and statuses of the last
        // devnet would refer to blocks and ops these chains never had).
        match std::fs::remove_dir_all(dir.node_data()) {
            Ok(()) => {
                tracing::info!(dir = %dir.node_data().display(), "node data of the previous devnet removed")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("removing {}", dir.node_data().display()));
            }
        }
        let node_env = devnet.node_env(&bridge_url, health_port);
        let log = std::fs::File::create(dir.logs().join("preconfer.log"))?;
        let child = tokio::process::Command::new(bin)
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .envs(node_env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("DATA_DIR", dir.node_data())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        if let Some(pid) = child.id() {
            started.push(Started {
                name: "preconfer".into(),
                pid,
            });
        }
        vars.extend(node_env);
        vars.push((
            "PRECONFER_HEALTH_URL",
            format!("http://127.0.0.1:{health_port}"),
        ));
        node = Some(child);
    }
    control::write_pids(&dir, &started)?;
    control::write_atomically(&dir.env(), &control::render_env(&vars))?;
    tracing::info!(env = %dir.env().display(), "devnet is up");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("stopping");
    if let Some(mut child) = node {
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
    drop(devnet);
    let _ = std::fs::remove_file(dir.env());
    let _ = std::fs::remove_file(dir.pids());
    Ok(())
}
