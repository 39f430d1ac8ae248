//! Standalone mode: both planes in one process, SQLite, in-process event bus, seeded with a
//! demo workspace, an admin key, an `mcp.invoke` key and a built-in demo upstream.

use std::sync::Arc;

use mcpgw_shared::bus::InProcessBus;

use crate::app::{ControlPlaneConfig, RunningControlPlane, shutdown_signal};
use crate::config::StandaloneArgs;
use crate::outbox::RelaySettings;
use crate::secrets::load_cipher;
use crate::store::Database;

/// Runs standalone mode until SIGINT/SIGTERM.
pub async fn run(args: StandaloneArgs) -> anyhow::Result<()> {
    let cp = &args.control_plane;
    let data_dir = &cp.database.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the data dir {} (MCPGW_DATA_DIR): {e}",
            data_dir.display()
        )
    })?;
    let db = Database::connect(&cp.database.database_url_or_default()).await?;
    db.migrate().await?;
    let cipher = load_cipher(cp, Some(data_dir))?;
    let bus = Arc::new(InProcessBus::default());
    let mut running = RunningControlPlane::start(ControlPlaneConfig {
        db,
        cipher,
        bus,
        admin_addr: cp.admin_addr,
        grpc_addr: cp.grpc_addr,
        relay: RelaySettings::default(),
    })
    .await?;
    if let Some(key) = running
        .service
        .ensure_bootstrap_admin(cp.bootstrap_admin_key.as_deref())
        .await?
    {
        println!("Admin API key (shown once, store it now): {key}");
    }
    println!(
        "Admin API: http://{}/v1 (OpenAPI at /openapi.json)",
        running.admin_addr
    );
    shutdown_signal().await;
    running.stop().await;
    Ok(())
}
