//! `mcpgw-control-plane standalone` as a user runs it: in a folder of its own, on free ports,
//! with what its banner prints.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::process::{binary, free_port};

/// The ports of one standalone installation: gateway, admin API, gRPC.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// `MCPGW_LISTEN_ADDR`.
    pub gateway: u16,
    /// `MCPGW_ADMIN_ADDR`.
    pub admin: u16,
    /// `MCPGW_GRPC_ADDR`.
    pub grpc: u16,
}

impl Ports {
    /// Three free loopback ports.
    pub fn free() -> Self {
        Self {
            gateway: free_port(),
            admin: free_port(),
            grpc: free_port(),
        }
    }
}

/// A running standalone process and its banner; killed when dropped.
pub struct Standalone {
    _child: Child,
    /// Everything it printed up to the curl line.
    pub banner: String,
}

impl Standalone {
    /// Starts standalone mode in `dir` (its data dir is `dir/.mcpgw`) and reads the banner.
    pub async fn start(dir: &Path, ports: Ports) -> Self {
        let mut child = Command::new(binary("mcpgw-control-plane"))
            .arg("standalone")
            .current_dir(dir)
            .env_remove("MCPGW_DATABASE_URL")
            .env_remove("MCPGW_SECRET_KEY")
            .env_remove("MCPGW_SESSION_KEYS")
            .env_remove("MCPGW_DATA_DIR")
            .env("MCPGW_LISTEN_ADDR", format!("127.0.0.1:{}", ports.gateway))
            .env("MCPGW_ADMIN_ADDR", format!("127.0.0.1:{}", ports.admin))
            .env("MCPGW_GRPC_ADDR", format!("127.0.0.1:{}", ports.grpc))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start mcpgw-control-plane standalone");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut banner = String::new();
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                banner.push_str(&line);
                banner.push('\n');
                if line.contains("curl -s") {
                    return;
                }
            }
            panic!("standalone exited before printing its banner:\n{banner}");
        })
        .await
        .expect("the banner within 60 s");
        // Keep reading, so the process never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            _child: child,
            banner,
        }
    }

    /// The key printed on the line containing `label` (`Admin key`, `mcp.invoke key`).
    pub fn printed_key(&self, label: &str) -> Option<String> {
        self.banner
            .lines()
            .find(|l| l.contains(label))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_owned)
    }
}
