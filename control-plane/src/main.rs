//! `mcpgw-control-plane`: see `--help`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mcpgw_control_plane::api::grpc_tls::server_tls;
use mcpgw_control_plane::app::{ControlPlaneConfig, RunningControlPlane};
use mcpgw_control_plane::config::{Cli, Command, DatabaseArgs, ServeArgs};
use mcpgw_control_plane::outbox::RelaySettings;
use mcpgw_control_plane::secrets::first_run_secrets;
use mcpgw_control_plane::secrets::load_cipher;
use mcpgw_control_plane::standalone;
use mcpgw_control_plane::store::Database;
use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_data_plane::egress::EgressPolicy;
use mcpgw_shared::bus::NatsBus;
use mcpgw_shared::nats;
use mcpgw_shared::signal::shutdown_signal;

/// jemalloc, configured (in `.cargo/config.toml`) to give freed pages back within a second, so
/// a pod's memory follows its configuration instead of its peak.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = mcpgw_shared::telemetry::init("mcpgw-control-plane");
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Standalone(args) => standalone::run(*args).await,
        Command::Migrate(args) => migrate(&args).await.map(|_| ()),
        Command::RebuildProjections(args) => rebuild(&args).await,
        Command::Health(args) => mcpgw_data_plane::health::probe(&args)
            .await
            .map_err(Into::into),
        Command::InitSecrets(args) => init_secrets(&args.dir),
        Command::DemoUpstream(args) => demo_upstream(args.listen_addr).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(args: &DatabaseArgs) -> anyhow::Result<Database> {
    let url = args
        .database_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("set MCPGW_DATABASE_URL (postgres://… or sqlite://…)"))?;
    let db = Database::connect(&url).await?;
    db.migrate().await?;
    tracing::info!("database migrated");
    Ok(db)
}

async fn rebuild(args: &DatabaseArgs) -> anyhow::Result<()> {
    let db = migrate(args).await?;
    let replayed = db.rebuild_projections().await?;
    println!("rebuilt the read models from {replayed} events");
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cp = &args.control_plane;
    let db = migrate(&cp.database).await?;
    let cipher = load_cipher(cp, None)?;
    let nats = args.nats.connect(async_nats::ConnectOptions::new()).await?;
    let mut running = RunningControlPlane::start_with_authorization(
        ControlPlaneConfig {
            db,
            cipher,
            bus: Arc::new(NatsBus::new(nats)),
            admin_addr: cp.admin_addr,
            grpc_addr: cp.grpc_addr,
            grpc_tls: server_tls(&args.grpc_tls, cp.grpc_addr)?,
            nats_user: args
                .nats
                .nats_nkey_seed
                .as_ref()
                .and_then(|seed| nats::public_key(seed.expose())),
            relay: RelaySettings {
                subjects: args.cluster.subjects(),
                ..RelaySettings::default()
            },
            bootstrap: cp.bootstrap()?,
            request_log: cp.request_log(),
            egress: EgressPolicy::parse(args.egress_allow.iter().map(String::as_str))?,
        },
        cp.authorization()?,
    )
    .await?;
    if let Some(key) = &running.generated_admin_key {
        println!("Admin API key (shown once, store it now): {key}");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

fn init_secrets(dir: &std::path::Path) -> anyhow::Result<()> {
    if let Some(admin_key) = first_run_secrets(dir)? {
        println!("Admin API key (shown once, store it now): {admin_key}");
    }
    println!("secrets are in {}", dir.display());
    Ok(())
}

async fn demo_upstream(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let demo = DemoUpstream::spawn_on(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(url = %demo.url(), "the demo MCP server is serving");
    shutdown_signal().await;
    demo.shutdown().await;
    Ok(())
}
