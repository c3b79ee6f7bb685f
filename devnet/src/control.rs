//! `devnet up|down|status`: runs the devnet as a background process with its state in a
//! directory (`.devnet/` by default): `env` (sourceable), `pids`, `logs/`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// Files of one devnet state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// The directory.
    pub root: PathBuf,
}

impl StateDir {
    /// The state directory at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
    /// The sourceable environment file, written last by `serve` once everything is up.
    pub fn env(&self) -> PathBuf {
        self.root.join("env")
    }
    /// `name pid` lines of every process the devnet started.
    pub fn pids(&self) -> PathBuf {
        self.root.join("pids")
    }
    /// Log directory.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// The JWT secret shared with the node.
    pub fn jwt(&self) -> PathBuf {
        self.root.join("jwt.hex")
    }
    /// The node's data directory.
    pub fn node_data(&self) -> PathBuf {
        self.root.join("data")
    }
}

/// A process the devnet started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// What it is (`devnet`, `anvil-l1`, `anvil-l2`, `preconfer`).
    pub name: String,
    /// Its pid.
    pub pid: u32,
}

/// Reads the pids file (missing file: nothing started).
pub fn read_pids(dir: &StateDir) -> Vec<Started> {
    fs::read_to_string(dir.pids())
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (name, pid) = line.split_once(' ')?;
            Some(Started {
                name: name.to_string(),
                pid: pid.trim().parse().ok()?,
            })
        })
        .collect()
}

/// Writes the pids file.
pub fn write_pids(dir: &StateDir, started: &[Started]) -> Result<()> {
    let text: String = started
        .iter()
        .map(|s| format!("{} {}\n", s.name, s.pid))
        .collect();
    write_atomically(&dir.pids(), &text)
}

/// Writes via a temporary file and a rename, so readers never see half a file.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Whether `started` is still that process (not a recycled pid).
pub fn alive(started: &Started) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{}/cmdline", started.pid)) else {
        return false;
    };
    let stat = fs::read_to_string(format!("/proc/{}/stat", started.pid)).unwrap_or_default();
    // A zombie has exited; only its parent's wait is missing.
    let zombie = stat
        .rsplit(')')
        .next()
        .is_some_and(|rest| rest.trim_start().starts_with('Z'));
    let program = if started.name.starts_with("anvil") {
        "anvil"
    } else {
        started.name.as_str()
    };
    !zombie && String::from_utf8_lossy(&cmdline).contains(program)
}

fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// The running devnet's main process, if any.
pub fn running(dir: &StateDir) -> Option<Started> {
    read_pids(dir)
        .into_iter()
        .find(|s| s.name == "devnet" && alive(s))
}

/// Starts `serve` in the background and waits until it has written the env file.
pub fn up(dir: &StateDir, serve_args: &[String], timeout: Duration) -> Result<()> {
    fs::create_dir_all(dir.logs())?;
    let log_path = dir.logs().join("devnet.log");
    let log = fs::File::create(&log_path)?;
    let _ = fs::remove_file(dir.env());
    let exe = std::env::current_exe().context("locating the devnet binary")?;
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new(exe)
            .arg("--state-dir")
            .arg(&dir.root)
            .arg("serve")
            .args(serve_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: it outlives this command and a terminal's Ctrl-C.
            .process_group(0)
            .spawn()
            .context("starting the devnet in the background")?
    };
    let start = Instant::now();
    while !dir.env().exists() {
        if let Some(status) = child.try_wait()? {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "the devnet exited during start-up ({status}); last log lines from {}:\n{}",
                log_path.display(),
                tail.join("\n")
            );
        }
        if start.elapsed() > timeout {
            signal(child.id(), "-TERM");
            bail!(
                "the devnet did not come up within {timeout:?}; see {}",
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Stops every process the devnet started: the main process first (it stops its children),
/// then anything left, by pid.
pub fn down(dir: &StateDir, timeout: Duration) -> Vec<Started> {
    let started = read_pids(dir);
    let main: Vec<&Started> = started.iter().filter(|s| s.name == "devnet").collect();
    for s in &main {
        if alive(s) {
            signal(s.pid, "-TERM");
        }
    }
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && started.iter().any(alive) {
        std::thread::sleep(Duration::from_millis(100));
    }
    for s in started.iter().filter(|s| alive(s)) {
        signal(s.pid, "-KILL");
    }
    let _ = fs::remove_file(dir.pids());
    let _ = fs::remove_file(dir.env());
    started
}

/// `KEY=value` pairs of the env file.
pub fn read_env(dir: &StateDir) -> Vec<(String, String)> {
    fs::read_to_string(dir.env())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.strip_prefix("export ")?.split_once('=')?;
            Some((k.to_string(), v.trim_matches('\'').to_string()))
        })
        .collect()
}

/// Renders the env file.
pub fn render_env(vars: &[(&str, String)]) -> String {
    let mut out = String::from("# written by scripts/devnet up; source it: `. .devnet/env`\n");
    for (k, v) in vars {
        out.push_str(&format!("export {k}='{v}'\n"));
    }
    out
}
