//! `mcpgw-data-plane serve`: a data-plane gateway fed by the control plane and NATS.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mcpgw_data_plane::Settings;
use mcpgw_data_plane::app::{RunningDataPlane, SyncSource};
use mcpgw_data_plane::sync::SyncSettings;
use mcpgw_shared::Redacted;
use mcpgw_shared::bus::NatsBus;

/// The MCP gateway's data plane.
#[derive(Debug, Parser)]
#[command(name = "mcpgw-data-plane", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves `/{slug}/mcp` with the configuration of the workspaces this data plane's token
    /// serves. Gateway settings (`MCPGW_LISTEN_ADDR`, `MCPGW_SESSION_KEYS`, …) are read from
    /// the environment; see the README.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The control plane's gRPC URL.
    #[arg(
        long,
        env = "MCPGW_CONTROL_PLANE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    control_plane_url: String,
    /// This data plane's token, from `POST /v1/data-planes`.
    #[arg(long, env = "MCPGW_DATA_PLANE_TOKEN", hide_env_values = true,
          value_parser = |text: &str| Ok::<_, std::convert::Infallible>(Redacted::new(text.to_owned())))]
    data_plane_token: Redacted<String>,
    /// NATS server carrying change events.
    #[arg(long, env = "MCPGW_NATS_URL")]
    nats_url: String,
    /// Local state (the last-known-good configuration file).
    #[arg(long, env = "MCPGW_DATA_DIR", default_value = ".mcpgw")]
    data_dir: PathBuf,
    /// Stop serving (503) once cut off from NATS and the control plane for this long, such as
    /// `5m`; unset: serve the last known configuration indefinitely.
    #[arg(long, env = "MCPGW_MAX_STALENESS", value_parser = humantime::parse_duration)]
    max_staleness: Option<Duration>,
}

#[tokio::main]
async fn main() -> ExitCode {
    mcpgw_shared::telemetry::init();
    let Command::Serve(args) = Cli::parse().command;
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::from_vars(|name| std::env::var(name).ok())?;
    let nats = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(&args.nats_url)
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot use NATS at {} (MCPGW_NATS_URL): {e}", args.nats_url)
        })?;
    let source = SyncSource {
        control_plane_url: args.control_plane_url,
        token: args.data_plane_token,
        data_dir: Some(args.data_dir),
        settings: SyncSettings {
            max_staleness: args.max_staleness,
            ..SyncSettings::default()
        },
    };
    let mut running =
        RunningDataPlane::start(settings, source, Arc::new(NatsBus::new(nats))).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
