//! A gateway on an ephemeral loopback port over a store fed from test data — the data plane as
//! a pod runs it, minus the sync loop.

use std::net::SocketAddr;

use mcpgw_shared::model::{ApiKeyRecord, ServerConfig};
use mcpgw_shared::proto;
use mcpgw_shared::secret::{Keyring, generate_base64_key};
use mcpgw_shared::{Credential, WorkspaceId};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{CommaList, Settings};
use crate::drain::Drain;
use crate::gateway::Gateway;
use crate::snapshot::{ConfigStore, ConfigUpdater};

/// What a test sets on the harness workspace.
#[derive(Debug, Clone, Default)]
pub struct WorkspacePolicies {
    /// Its tool policy.
    pub tools: mcpgw_shared::model::ToolFilter,
    /// Grants by `key:<id>` or `user:<id>`.
    pub grants: std::collections::BTreeMap<String, mcpgw_shared::model::Grants>,
    /// Its rate limits.
    pub rate_limits: Vec<mcpgw_shared::model::RateLimit>,
    /// Its bearer-JWT rules.
    pub jwt_validation: Option<mcpgw_shared::model::JwtValidation>,
    /// The OpenID Connect provider its users sign in with.
    pub identity_provider: Option<mcpgw_shared::model::IdentityProvider>,
}

/// A running gateway and the handle to change its configuration.
pub struct Harness {
    /// The store the gateway reads.
    pub store: ConfigStore,
    /// Its writer.
    pub updater: ConfigUpdater,
    /// The workspace test servers and keys belong to.
    pub workspace: WorkspaceId,
    /// The session keyring (share it with a second gateway to act as another pod).
    pub session_keys: Keyring,
    addr: SocketAddr,
    seq: i64,
    stop: CancellationToken,
    drain: Drain,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Harness {
    /// Starts a gateway with default settings and a fresh session keyring.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a gateway whose settings `adjust` changes.
    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let keys = Keyring::parse(&format!("test:{}", generate_base64_key()))
            .expect("a generated key parses");
        Self::start_with_keys(keys, adjust).await
    }

    /// Starts a gateway sealing sessions with `session_keys`.
    pub async fn start_with_keys(
        session_keys: Keyring,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let mut settings = Settings::new(addr, session_keys.clone());
        // Test upstreams listen on loopback, which the egress policy refuses by default.
        settings.egress_allow = CommaList(vec!["127.0.0.0/8".into(), "::1/128".into()]);
        adjust(&mut settings);
        let (store, mut updater) = ConfigStore::new();
        let workspace = WorkspaceId::new();
        updater
            .replace(super::snapshot(1, &[workspace], &[], &[]))
            .expect("an empty snapshot applies");
        let gateway = Gateway::new(store.clone(), &settings).expect("test settings are valid");
        let drain = gateway.drain();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task =
            tokio::spawn(gateway.serve(listener, async move { token.cancelled_owned().await }));
        Self {
            store,
            updater,
            workspace,
            session_keys,
            addr,
            seq: 1,
            stop,
            drain,
            task,
        }
    }

    /// The gateway's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The MCP URL of `slug` on this gateway.
    pub fn url(&self, slug: &str) -> String {
        format!("http://{}/{slug}/mcp", self.addr)
    }

    fn next_seq(&mut self) -> i64 {
        self.seq += 1;
        self.seq
    }

    /// Adds or replaces a server.
    pub fn put_server(&mut self, server: &ServerConfig) {
        let seq = self.next_seq();
        self.updater
            .apply([super::server_state(seq, server)], seq)
            .expect("a test server applies");
    }

    /// Sets the harness workspace's policies.
    pub fn put_workspace(&mut self, policies: &WorkspacePolicies) {
        let seq = self.next_seq();
        let state = proto::EntityState {
            kind: proto::EntityKind::Workspace as i32,
            id: self.workspace.to_string(),
            seq,
            state: Some(proto::entity_state::State::Workspace(proto::Workspace {
                id: self.workspace.to_string(),
                name: "harness".into(),
                tools: Some((&policies.tools).into()),
                grants: policies
                    .grants
                    .iter()
                    .map(|(subject, granted)| (subject.clone(), granted.into()))
                    .collect(),
                rate_limits: policies.rate_limits.iter().map(Into::into).collect(),
                jwt_validation: policies
                    .jwt_validation
                    .as_ref()
                    .map(|rules| rules.to_json_with_secret()),
                identity_provider: policies
                    .identity_provider
                    .as_ref()
                    .map(|provider| provider.to_json_with_secret()),
            })),
        };
        self.updater
            .apply([state], seq)
            .expect("a test workspace applies");
    }

    /// Adds or replaces a key.
    pub fn put_key(&mut self, key: &ApiKeyRecord) {
        let seq = self.next_seq();
        self.updater
            .apply([super::key_state(seq, key)], seq)
            .expect("a test key applies");
    }

    /// Revokes grant `id` of the harness workspace, its tokens live for ten more minutes.
    pub fn revoke_grant(&mut self, id: mcpgw_shared::OAuthGrantId) {
        let seq = self.next_seq();
        let grant = mcpgw_shared::model::RevokedGrant {
            id,
            workspace_id: self.workspace,
            live_until: chrono::Utc::now() + chrono::TimeDelta::minutes(10),
        };
        self.updater
            .apply([super::revoked_grant_state(seq, &grant)], seq)
            .expect("a test grant applies");
    }

    /// Adds a server at `slug` relaying to `url` in the harness workspace, and returns it.
    pub fn add_server(&mut self, slug: &str, url: &str) -> ServerConfig {
        let server = super::server(slug, self.workspace, url);
        self.put_server(&server);
        server
    }

    /// Adds a key of the harness workspace with `mcp.invoke`; returns the key text to present.
    pub fn add_invoke_key(&mut self) -> (String, ApiKeyRecord) {
        let (credential, record): (Credential, ApiKeyRecord) = super::invoke_key(self.workspace);
        self.put_key(&record);
        (credential.expose(), record)
    }

    /// The drain of this gateway.
    pub fn drain(&self) -> &Drain {
        &self.drain
    }

    /// Stops the gateway (draining its streams) and waits for it.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
