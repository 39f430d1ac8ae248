//! The NATS server the tests use, and private NATS servers for tests that stop one.

use std::time::Duration;

/// The shared NATS server's URL.
pub fn nats_url() -> String {
    std::env::var("MCPGW_TEST_NATS_URL").unwrap_or_else(|_| {
        panic!(
            "MCPGW_TEST_NATS_URL is not set: run the suite with tests/run.sh, which starts NATS \
             and sets it (e.g. nats://127.0.0.1:4222)"
        )
    })
}

/// A client of the shared NATS server; fails the test clearly when it is not running.
pub async fn connect() -> async_nats::Client {
    let url = nats_url();
    tokio::time::timeout(Duration::from_secs(10), async_nats::connect(&url))
        .await
        .unwrap_or_else(|_| {
            panic!("NATS at {url} did not answer within 10 s (tests/run.sh starts it)")
        })
        .unwrap_or_else(|e| panic!("cannot connect to NATS at {url}: {e} (tests/run.sh starts it)"))
}

/// A NATS server of the test's own on a free port, for tests that stop and restart it (never
/// the shared one), or that need a configuration of their own (authorization, leaf nodes).
pub struct PrivateNats {
    port: u16,
    config: Option<std::path::PathBuf>,
    child: Option<tokio::process::Child>,
}

impl PrivateNats {
    /// Starts `nats-server` on a free loopback port.
    pub async fn start() -> Self {
        Self::start_configured(crate::process::free_port(), None).await
    }

    /// Starts `nats-server -c <config>` on `port` (which the configuration must not set; the
    /// server listens on 127.0.0.1).
    pub async fn start_configured(port: u16, config: Option<std::path::PathBuf>) -> Self {
        let mut nats = Self {
            port,
            config,
            child: None,
        };
        nats.restart().await;
        nats
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        }
    }

    /// Starts the server again on the same port and waits until it accepts connections.
    pub async fn restart(&mut self) {
        self.stop().await;
        let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| panic!("nats-server is not installed: tests/run.sh installs it (apt-get install nats-server)"));
        let mut command = tokio::process::Command::new(binary);
        command.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(config) = &self.config {
            command.arg("-c").arg(config);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the private nats-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
