//! Child processes of the gateway's binaries, killed when dropped.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Most lines of a process's standard error that are kept for inspection.
const KEPT_LOG_LINES: usize = 50_000;

/// The path of a workspace binary built next to the test executable (`cargo test --workspace`
/// builds them, since each binary's package has integration tests).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the suite with tests/run.sh (or `cargo build --bins` first)",
        path.display()
    );
    path
}

/// The last lines a process wrote to its standard error.
#[derive(Clone, Default, Debug)]
pub struct LogLines(Arc<Mutex<VecDeque<String>>>);

impl LogLines {
    /// The lines kept so far, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("log lock").iter().cloned().collect()
    }

    fn push(&self, line: String) {
        let mut lines = self.0.lock().expect("log lock");
        if lines.len() == KEPT_LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }
}

/// A running child process; killed on drop.
pub struct ChildProcess {
    child: Child,
    name: String,
    logs: LogLines,
}

impl ChildProcess {
    /// Starts `binary args…` with `env`; stdout is inherited, and every line of stderr is both
    /// echoed (so failures show in the test output) and kept (see [`ChildProcess::logs`]).
    pub fn spawn(name: &str, args: &[&str], env: &[(&str, String)]) -> Self {
        let mut command = Command::new(binary(name));
        command
            .args(args)
            .env_remove("MCPGW_DATABASE_URL")
            .env_remove("MCPGW_NATS_URL")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let logs = LogLines::default();
        if let Some(stderr) = child.stderr.take() {
            let kept = logs.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("{line}");
                    kept.push(line);
                }
            });
        }
        Self {
            child,
            name: name.to_owned(),
            logs,
        }
    }

    /// What the process wrote to its standard error so far.
    pub fn logs(&self) -> LogLines {
        self.logs.clone()
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL) and reaps it.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit; returns its exit code.
    pub async fn terminate(&mut self, within: Duration) -> Option<i32> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => panic!("{} did not exit within {within:?} of SIGTERM", self.name),
        }
    }
}

/// The resident memory (`VmRSS`) of process `pid`, in KiB.
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// How many file descriptors process `pid` holds open.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// How many ports below the kernel's ephemeral range [`free_port`] draws from.
const PORT_POOL: u16 = 12_000;

/// A free TCP port on loopback for a server a test starts (bound, then released).
///
/// It is drawn below the kernel's ephemeral range, so no outgoing connection can take it
/// while it is unbound: not between this check and the server's bind, and not while a test
/// restarts the server on it (a client retrying a loopback port of the ephemeral range can
/// even connect to itself, and the restarted server then cannot bind). No port is handed out
/// twice in one test binary.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let pool_start = ephemeral_start.saturating_sub(PORT_POOL).max(1_024);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    if pool_start < ephemeral_start {
        for _ in 0..1_000 {
            let offset = uuid::Uuid::new_v4().as_u128() % u128::from(ephemeral_start - pool_start);
            let port = pool_start + u16::try_from(offset).expect("below the pool's size");
            if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                given.push(port);
                return port;
            }
        }
    }
    // No room below the ephemeral range: any port the kernel gives.
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until `url` answers any HTTP response, for up to `within`.
pub async fn wait_for_http(url: &str, within: Duration) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if client.get(url).send().await.is_ok() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} did not answer within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
