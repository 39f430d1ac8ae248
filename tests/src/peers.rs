//! The MCP peers end-to-end tests drive (installed by `tests/peers.sh` into `tests/.peers/`):
//! Node 22 and its packages, and a Python venv with the `mcp` SDK. A missing peer fails the
//! test with the command that installs it; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

/// The `tests/` folder.
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn peers() -> PathBuf {
    tests_dir().join(".peers")
}

fn require(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run tests/peers.sh (tests/run.sh runs it) to install the MCP peers",
        path.display()
    );
    path
}

/// Node 22 (the npm package `node@22`).
pub fn node() -> PathBuf {
    require(peers().join("npm/node_modules/node/bin/node"))
}

/// The entry script of an npm package's binary, such as `conformance`.
pub fn npm_bin(name: &str) -> PathBuf {
    require(peers().join("npm/node_modules/.bin").join(name))
}

/// A file of an installed npm package, such as `conformance-next/dist/index.js`.
pub fn npm_file(path: &str) -> PathBuf {
    require(peers().join("npm/node_modules").join(path))
}

/// `kubernetes-validate` from the venv: Kubernetes schemas, offline.
pub fn kubernetes_validate() -> PathBuf {
    require(peers().join("venv/bin/kubernetes-validate"))
}

/// The venv's Python, with the `mcp` SDK.
pub fn python() -> PathBuf {
    require(peers().join("venv/bin/python"))
}

/// A script in `tests/peers/`.
pub fn script(name: &str) -> PathBuf {
    require(tests_dir().join("peers").join(name))
}

/// Runs `program args…` in `dir` to completion within `limit`; panics with its output if it
/// fails or hangs.
pub async fn run(program: &Path, args: &[&str], dir: &Path, limit: Duration) -> Output {
    let output = run_to_end(program, args, dir, limit).await;
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `program args…` in `dir` to completion within `limit`, whatever its exit status;
/// panics if it hangs.
pub async fn run_to_end(program: &Path, args: &[&str], dir: &Path, limit: Duration) -> Output {
    let child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} {args:?} did not finish within {limit:?}",
                program.display()
            )
        })
        .expect("collect the output")
}

/// Starts a long-running peer (an upstream server); killed when dropped.
pub fn spawn(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()))
}

/// Waits until something accepts TCP connections on `port` of 127.0.0.1.
pub async fn wait_for_port(port: u16, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free loopback port (bound and released; for peers that cannot bind port 0 and report it).
pub use crate::process::free_port;

/// Drives the MCP server at `url` with the Python `mcp` SDK (`tests/peers/mcp_client.py`) in
/// `mode` (`legacy`, `auto` or a modern version), calling the tools in `calls`
/// (`[[name, arguments], …]`); returns the JSON the script prints of what it saw.
pub async fn python_client(
    url: &str,
    key: &str,
    mode: &str,
    calls: serde_json::Value,
    extra: &[&str],
    limit: Duration,
) -> serde_json::Value {
    let script = script("mcp_client.py");
    let calls = calls.to_string();
    let mut args = vec![
        script.to_str().expect("a UTF-8 path"),
        url,
        key,
        mode,
        &calls,
    ];
    args.extend_from_slice(extra);
    let out = run(&python(), &args, &tests_dir(), limit).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}
