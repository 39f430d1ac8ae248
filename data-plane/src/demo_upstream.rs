//! The standalone demo upstream (feature `demo-upstream`): a small rmcp Streamable HTTP server
//! with a few tools — `echo`, `add`, `current_time` and `countdown` (long-running, with
//! progress notifications) — on an ephemeral loopback port. The production data-plane binary
//! does not link it; the control plane's standalone mode and the tests do.

use std::net::SocketAddr;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, ProgressNotificationParam, RequestMetaObject, ServerCapabilities,
    ServerConfig,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Arguments of `echo`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// The text to send back.
    pub message: String,
}

/// Arguments of `add`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddArgs {
    /// Left operand.
    pub a: f64,
    /// Right operand.
    pub b: f64,
}

/// Arguments of `countdown`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CountdownArgs {
    /// How many steps (1 to 100).
    pub steps: u32,
    /// Pause between steps in milliseconds (at most 10000).
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
}

fn default_interval() -> u64 {
    100
}

/// The demo server's tools.
#[derive(Debug, Clone)]
pub struct DemoTools {
    tool_router: ToolRouter<Self>,
}

impl Default for DemoTools {
    fn default() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router]
impl DemoTools {
    /// Sends the message back.
    #[tool(description = "Echo a message back")]
    fn echo(&self, Parameters(EchoArgs { message }): Parameters<EchoArgs>) -> String {
        message
    }

    /// Adds two numbers.
    #[tool(description = "Add two numbers")]
    fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> String {
        (a + b).to_string()
    }

    /// The current time.
    #[tool(description = "The current UTC time (RFC 3339)")]
    fn current_time(&self) -> String {
        chrono::Utc::now().to_rfc3339()
    }

    /// Counts down, reporting progress at every step when the caller asked for it.
    #[tool(description = "Count down in steps, sending a progress notification at each step")]
    async fn countdown(
        &self,
        Parameters(args): Parameters<CountdownArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let steps = args.steps.clamp(1, 100);
        let interval = Duration::from_millis(args.interval_ms.min(10_000));
        let token = meta.get_progress_token();
        for step in 1..=steps {
            tokio::time::sleep(interval).await;
            if let Some(token) = &token {
                let progress = ProgressNotificationParam::new(token.clone(), f64::from(step))
                    .with_total(f64::from(steps))
                    .with_message(format!("{} to go", steps - step));
                peer.notify_progress(progress)
                    .await
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
            }
        }
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "counted down {steps} steps"
        ))]))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for DemoTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("The MCP gateway's demo server: echo, add, current_time, countdown.")
    }
}

/// A running demo upstream.
#[derive(Debug)]
pub struct DemoUpstream {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl DemoUpstream {
    /// Starts the demo server on an ephemeral loopback port.
    pub async fn spawn() -> std::io::Result<Self> {
        Self::spawn_on(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts the demo server on `addr`. Beyond loopback it answers any `Host` (it is reached
    /// by a service name, such as `demo-upstream` in the compose layout).
    pub async fn spawn_on(addr: SocketAddr) -> std::io::Result<Self> {
        let stop = CancellationToken::new();
        let mut config =
            StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token());
        if !addr.ip().is_loopback() {
            config = config.disable_allowed_hosts();
        }
        let service: StreamableHttpService<DemoTools, LocalSessionManager> =
            StreamableHttpService::new(|| Ok(DemoTools::default()), Default::default(), config);
        let router = axum::Router::new().nest_service("/mcp", service);
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let token = stop.clone();
        // Without TCP_NODELAY a small answer waits out the client's delayed ACK (~40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { token.cancelled_owned().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the demo upstream stopped");
            }
        });
        Ok(Self { addr, stop, task })
    }

    /// Its MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Stops it and waits until it has.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
