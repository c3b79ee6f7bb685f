//! Starting and stopping anvil processes (one per chain), always on loopback and on a free port.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use url::Url;

/// anvil could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// The binary is not installed.
    #[error("anvil is not installed at {0}: run scripts/install-tools")]
    Missing(String),
    /// It could not be spawned.
    #[error("cannot start anvil: {0}")]
    Spawn(#[from] std::io::Error),
    /// It did not report a listening address in time.
    #[error("anvil did not start listening within {0:?}")]
    NotListening(Duration),
}

/// How to start one anvil.
#[derive(Debug, Clone, Default)]
pub struct AnvilOptions {
    /// Chain id (anvil's default 31337 if unset).
    pub chain_id: Option<u64>,
    /// Seconds between blocks; `None` mines on every transaction.
    pub block_time: Option<u64>,
    /// Mine only on request (`evm_mine`); for an L2 whose blocks the driver stand-in builds.
    pub no_mining: bool,
}

/// A running anvil, killed when dropped.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: Url,
}

const START_TIMEOUT: Duration = Duration::from_secs(20);

impl Anvil {
    /// Starts anvil under the Osaka rules (its default is not Osaka) on a free loopback port.
    pub fn start(options: &AnvilOptions) -> Result<Self, AnvilError> {
        let bin = crate::tools::anvil();
        if !bin.exists() {
            return Err(AnvilError::Missing(bin.display().to_string()));
        }
        let mut command = Command::new(bin);
        command.args(["--hardfork", "osaka", "--host", "127.0.0.1", "--port", "0"]);
        if let Some(id) = options.chain_id {
            command.args(["--chain-id", &id.to_string()]);
        }
        if let Some(seconds) = options.block_time {
            command.args(["--block-time", &seconds.to_string()]);
        }
        if options.no_mining {
            command.args(["--no-mining", "--order", "fifo"]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(AnvilError::NotListening(START_TIMEOUT));
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("Listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
                // Keep reading so anvil never blocks on a full pipe.
            }
        });
        let url = rx
            .recv_timeout(START_TIMEOUT)
            .ok()
            .and_then(|addr| Url::parse(&format!("http://{addr}")).ok());
        match url {
            Some(url) => Ok(Self { child, url }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(AnvilError::NotListening(START_TIMEOUT))
            }
        }
    }

    /// The process id (for `scripts/devnet down`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
