//! `mcpgw-data-plane serve`: a data-plane gateway fed by the control plane and NATS.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mcpgw_data_plane::app::{RunningDataPlane, SyncSource};
use mcpgw_data_plane::config::{Cli, Command, ServeArgs};
use mcpgw_data_plane::health::probe;
use mcpgw_data_plane::sync::{SyncLink, SyncSettings};
use mcpgw_shared::bus::NatsBus;
use mcpgw_shared::signal::shutdown_signal;

/// jemalloc, configured (in `.cargo/config.toml`) to give freed pages back within a second, so
/// a pod's memory follows its configuration instead of its peak.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = mcpgw_shared::telemetry::init("mcpgw-data-plane");
    let result = match Cli::parse().command {
        Command::Serve(args) => serve(*args).await,
        Command::Health(args) => probe(&args).await.map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(mut args: ServeArgs) -> anyhow::Result<()> {
    let link = SyncLink::new(&args.control_plane_url, &args.link)?;
    let token = args.token()?;
    args.load_keyrings()?;
    let nats = args
        .nats
        .connect(async_nats::ConnectOptions::new().retry_on_initial_connect())
        .await?;
    let source = SyncSource {
        link,
        token,
        data_dir: Some(args.data_dir),
        settings: SyncSettings {
            max_staleness: args.max_staleness,
            subjects: args.cluster.subjects(),
            ..SyncSettings::default()
        },
    };
    let mut running =
        RunningDataPlane::start(args.gateway, source, Arc::new(NatsBus::new(nats))).await?;
    tokio::select! {
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            running.stop().await;
            Ok(())
        }
        skew = running.failed() => {
            running.stop().await;
            Err(skew.into())
        }
    }
}
