//! Standalone mode: both planes in one process, SQLite, in-process event bus, seeded with a
//! demo workspace, an admin key, an `mcp.invoke` key and a built-in demo upstream on an
//! ephemeral loopback port. The data plane is fed exactly as in a fleet: over the sync API
//! (on loopback) with its own token, and by the (in-process) bus.

mod banner;
mod seed;

use std::sync::Arc;
use std::time::Duration;

use mcpgw_data_plane::app::{RunningDataPlane, SyncSource};
use mcpgw_data_plane::config::CommaList;
use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_data_plane::egress::EgressPolicy;
use mcpgw_data_plane::sync::{SyncLink, SyncSettings};
use mcpgw_shared::Redacted;
use mcpgw_shared::bus::{Bus, InProcessBus};
use mcpgw_shared::secret::{Keyring, generate_base64_key};
use mcpgw_shared::signal::shutdown_signal;

use crate::app::{ControlPlaneConfig, RunningControlPlane};
use crate::config::StandaloneArgs;
use crate::outbox::RelaySettings;
use crate::secrets::{load_cipher, read_or_create};
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
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::default());
    let mut settings = args.gateway.clone();
    if settings.egress_allow.is_empty() {
        // The demo upstream listens on loopback; other internal addresses stay refused.
        settings.egress_allow = CommaList(vec!["127.0.0.0/8".into(), "::1/128".into()]);
        tracing::info!(
            "standalone: the gateway may connect to loopback upstreams (set MCPGW_EGRESS_ALLOW to choose otherwise)"
        );
    }
    let egress = EgressPolicy::parse(settings.egress_allow.iter().map(String::as_str))?;
    let mut control_plane = RunningControlPlane::start_with_authorization(
        ControlPlaneConfig {
            db,
            cipher,
            bus: bus.clone(),
            admin_addr: cp.admin_addr,
            grpc_addr: cp.grpc_addr,
            grpc_tls: None,
            nats_user: None,
            relay: RelaySettings::default(),
            bootstrap: cp.bootstrap()?,
            request_log: cp.request_log(),
            egress,
        },
        cp.authorization()?,
    )
    .await?;
    let admin_key = control_plane.generated_admin_key.clone();

    let demo = DemoUpstream::spawn()
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the demo upstream: {e}"))?;
    let seeded = seed::seed(&control_plane.service, &demo.url(), data_dir).await?;

    if settings.session_keys.is_none() {
        let generated = read_or_create(&data_dir.join("session.keys"), || {
            format!("standalone:{}", generate_base64_key())
        })?;
        settings.session_keys = Some(Keyring::parse(&generated)?);
    }
    if settings.token_key.is_none() {
        let generated = read_or_create(&data_dir.join("token.keys"), || {
            format!("standalone:{}", generate_base64_key())
        })?;
        settings.token_key = Some(Keyring::parse(&generated)?);
    }
    let source = SyncSource {
        link: SyncLink::loopback(control_plane.grpc_addr)?,
        token: Redacted::new(seeded.data_plane_token.clone()),
        data_dir: Some(data_dir.clone()),
        settings: SyncSettings::default(),
    };
    let mut data_plane = RunningDataPlane::start(settings, source, bus).await?;
    if !data_plane.ready(Duration::from_secs(10)).await {
        anyhow::bail!(
            "the data plane did not load its configuration within 10 s; see the log above"
        );
    }
    banner::print(&banner::Banner {
        gateway_url: format!("http://{}/demo/mcp", data_plane.addr),
        admin_url: format!("http://{}", control_plane.admin_addr),
        admin_key: admin_key.as_deref(),
        invoke_key: seeded.invoke_key.as_deref(),
    });

    shutdown_signal().await;
    tracing::info!("shutting down");
    data_plane.stop().await;
    control_plane.stop().await;
    demo.shutdown().await;
    Ok(())
}
