//! The demo workspace, server, `mcp.invoke` key and the standalone data plane's registration,
//! created on first run and kept on later runs (the demo server's URL follows the demo
//! upstream's new port).

use std::path::Path;

use mcpgw_shared::model::{KeyType, Permission, ToolFilter, UpstreamAuth};

use crate::application::{
    Caller, IssueApiKeyInput, RegisterDataPlaneInput, RegisterServerInput, Service,
    UpdateServerInput,
};
use crate::secrets::{read_or_create, replace_secret_file};

/// Name, and slug, of the demo workspace and server.
pub const DEMO: &str = "demo";

/// What seeding produced.
pub struct Seeded {
    /// The `mcp.invoke` key, on the run that created it.
    pub invoke_key: Option<String>,
    /// The standalone data plane's token.
    pub data_plane_token: String,
}

/// Seeds (or refreshes) the demo configuration.
pub async fn seed(service: &Service, demo_url: &str, data_dir: &Path) -> anyhow::Result<Seeded> {
    let system = Caller::System;
    let workspaces = service.workspaces(&system).await?;
    let workspace = match workspaces.into_iter().find(|w| w.name == DEMO) {
        Some(workspace) => workspace,
        None => service.create_workspace(&system, DEMO).await?,
    };
    let mut invoke_key = None;
    let servers = service.servers(&system).await?;
    match servers.into_iter().find(|s| s.slug.as_str() == DEMO) {
        Some(server) if server.url == demo_url => {}
        Some(server) => {
            let update = UpdateServerInput {
                url: Some(demo_url.to_owned()),
                ..UpdateServerInput::default()
            };
            service
                .update_server(&system, &server.id, update, None)
                .await?;
        }
        None => {
            service
                .register_server(
                    &system,
                    RegisterServerInput {
                        workspace_id: workspace.id.to_string(),
                        slug: DEMO.into(),
                        name: "Demo".into(),
                        description: "The gateway's built-in demo MCP server".into(),
                        url: demo_url.to_owned(),
                        auth: UpstreamAuth::None,
                        tools: ToolFilter::default(),
                        enabled: true,
                        request_logging: Default::default(),
                        rate_limits: Vec::new(),
                        virtual_server: None,
                        identity_forwarding: Default::default(),
                        jwt_validation: None,
                        provisioned_workspaces: vec![],
                    },
                )
                .await?;
            let issued = service
                .issue_api_key(
                    &system,
                    IssueApiKeyInput {
                        workspace_id: Some(workspace.id.to_string()),
                        name: "demo client".into(),
                        key_type: KeyType::Service,
                        user_id: None,
                        permissions: vec![Permission::McpInvoke],
                        expires_at: None,
                    },
                )
                .await?;
            invoke_key = Some(issued.key);
        }
    }
    let token_file = data_dir.join("standalone-data-plane.token");
    let stored = if token_file.exists() {
        Some(read_or_create(&token_file, String::new)?)
    } else {
        None
    };
    let data_plane_token = match stored {
        // The token file outlived its database (the database was deleted): register anew.
        Some(token) if service.authenticate_data_plane(&token).await.is_ok() => token,
        _ => {
            let registered = service
                .register_data_plane(
                    &system,
                    RegisterDataPlaneInput {
                        name: "standalone".into(),
                        workspaces: None,
                    },
                )
                .await?;
            replace_secret_file(&token_file, &registered.token.token)?;
            registered.token.token
        }
    };
    Ok(Seeded {
        invoke_key,
        data_plane_token,
    })
}
