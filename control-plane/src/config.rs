//! Command line and environment (`MCPGW_*`) configuration of the control-plane binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mcpgw_shared::Redacted;
use mcpgw_shared::nats::NatsArgs;
use mcpgw_shared::secret_file::{SecretFileError, value_or_file};
use mcpgw_shared::subjects::Cluster;

use crate::application::AuthorizationSettings;

/// The MCP gateway's control plane.
#[derive(Debug, Parser)]
#[command(name = "mcpgw-control-plane", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the control plane: REST admin API, gRPC sync API and the outbox relay to NATS.
    Serve(Box<ServeArgs>),
    /// Runs both planes in one process on SQLite with an in-process event bus, seeded with a
    /// demo workspace, keys and upstream.
    Standalone(Box<StandaloneArgs>),
    /// Applies database migrations and exits.
    Migrate(DatabaseArgs),
    /// Rebuilds the read models from the event log and exits.
    RebuildProjections(DatabaseArgs),
    /// Asks a URL (such as `/healthz`) and exits 0 on a 2xx answer: the container image's
    /// health check.
    Health(mcpgw_data_plane::health::ProbeArgs),
    /// Writes a first run's secrets into a directory, each unless it exists: `secret-key`,
    /// `admin-key`, `data-plane-token`, `session-keys` and `token-keys` (mode 0600); prints the
    /// admin key when it creates it.
    InitSecrets(InitSecretsArgs),
    /// Serves the demo MCP server (the one standalone mode seeds) on an address.
    DemoUpstream(DemoUpstreamArgs),
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Control-plane database (`postgres://…` or `sqlite://…`); standalone defaults to
    /// `sqlite://<data dir>/mcpgw.db`.
    #[arg(long, env = "MCPGW_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Local state: SQLite file, generated keys.
    #[arg(long, env = "MCPGW_DATA_DIR", default_value = ".mcpgw")]
    pub data_dir: PathBuf,
}

impl DatabaseArgs {
    /// The database URL, defaulting to the SQLite file in the data dir.
    pub fn database_url_or_default(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("mcpgw.db").display()))
    }
}

/// Settings shared by `serve` and `standalone`.
#[derive(Debug, Clone, Args)]
pub struct ControlPlaneArgs {
    /// Database and data dir.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// REST admin API listen address.
    #[arg(long, env = "MCPGW_ADMIN_ADDR", default_value = "127.0.0.1:8081")]
    pub admin_addr: SocketAddr,
    /// gRPC (config sync) listen address.
    #[arg(long, env = "MCPGW_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// The first admin key, `mcpgw_<id>_<secret>` (otherwise `standalone` generates one).
    #[arg(long, env = "MCPGW_BOOTSTRAP_ADMIN_KEY", hide_env_values = true)]
    pub bootstrap_admin_key: Option<Redacted<String>>,
    /// A file holding the first admin key, instead of `MCPGW_BOOTSTRAP_ADMIN_KEY`.
    #[arg(long, env = "MCPGW_BOOTSTRAP_ADMIN_KEY_FILE")]
    pub bootstrap_admin_key_file: Option<PathBuf>,
    /// A data-plane token (`mcpgwdp_<id>_<secret>`) registered at start-up, serving every
    /// workspace, unless it is known already.
    #[arg(long, env = "MCPGW_BOOTSTRAP_DATA_PLANE_TOKEN", hide_env_values = true)]
    pub bootstrap_data_plane_token: Option<Redacted<String>>,
    /// A file holding that token, instead of `MCPGW_BOOTSTRAP_DATA_PLANE_TOKEN`.
    #[arg(long, env = "MCPGW_BOOTSTRAP_DATA_PLANE_TOKEN_FILE")]
    pub bootstrap_data_plane_token_file: Option<PathBuf>,
    /// Key that encrypts secrets at rest: 32 random bytes, base64.
    #[arg(long, env = "MCPGW_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<Redacted<String>>,
    /// A file holding that key, instead of `MCPGW_SECRET_KEY`.
    #[arg(long, env = "MCPGW_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// How long request-log records are kept.
    #[arg(long, env = "MCPGW_REQUEST_LOG_RETENTION", default_value = "7d",
          value_parser = humantime::parse_duration)]
    pub request_log_retention: std::time::Duration,
    /// Most request-log records kept (the oldest go first).
    #[arg(long, env = "MCPGW_REQUEST_LOG_MAX_RECORDS", default_value = "1000000")]
    pub request_log_max_records: u64,
    /// Lifetime of the access tokens the gateway's OAuth authorization server issues.
    #[arg(long, env = "MCPGW_OAUTH_ACCESS_TOKEN_TTL", default_value = "10m",
          value_parser = humantime::parse_duration)]
    pub oauth_access_token_ttl: std::time::Duration,
    /// Age at which the key that signs access tokens is replaced (the one it replaces keeps
    /// verifying for one more period).
    #[arg(long, env = "MCPGW_OAUTH_SIGNING_KEY_ROTATION", default_value = "30d",
          value_parser = humantime::parse_duration)]
    pub oauth_signing_key_rotation: std::time::Duration,
}

/// The authorization server's lifetimes do not fit together.
#[derive(Debug, thiserror::Error)]
#[error(
    "MCPGW_OAUTH_ACCESS_TOKEN_TTL ({ttl}) must be at least 1s and at most MCPGW_OAUTH_SIGNING_KEY_ROTATION ({rotation}): a token must expire before its key is retired"
)]
pub struct InvalidAuthorizationSettings {
    ttl: humantime::FormattedDuration,
    rotation: humantime::FormattedDuration,
}

/// Secrets a control plane registers at start-up.
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    /// The first admin key.
    pub admin_key: Option<String>,
    /// A data-plane token to register.
    pub data_plane_token: Option<String>,
}

impl ControlPlaneArgs {
    /// The request log's retention bounds.
    pub fn request_log(&self) -> crate::request_log::RequestLogSettings {
        crate::request_log::RequestLogSettings {
            retention: self.request_log_retention,
            max_records: self.request_log_max_records,
            ..Default::default()
        }
    }

    /// The authorization server's token and key lifetimes.
    pub fn authorization(&self) -> Result<AuthorizationSettings, InvalidAuthorizationSettings> {
        let (ttl, rotation) = (self.oauth_access_token_ttl, self.oauth_signing_key_rotation);
        if ttl.as_secs() == 0 || ttl > rotation {
            return Err(InvalidAuthorizationSettings {
                ttl: humantime::format_duration(ttl),
                rotation: humantime::format_duration(rotation),
            });
        }
        Ok(AuthorizationSettings {
            access_token_ttl: ttl,
            signing_key_rotation: rotation,
        })
    }

    /// The bootstrap admin key and data-plane token, from their variables or their files.
    pub fn bootstrap(&self) -> Result<Bootstrap, SecretFileError> {
        let admin_key = value_or_file(
            "MCPGW_BOOTSTRAP_ADMIN_KEY",
            self.bootstrap_admin_key.as_ref(),
            self.bootstrap_admin_key_file.as_deref(),
        )?;
        let data_plane_token = value_or_file(
            "MCPGW_BOOTSTRAP_DATA_PLANE_TOKEN",
            self.bootstrap_data_plane_token.as_ref(),
            self.bootstrap_data_plane_token_file.as_deref(),
        )?;
        Ok(Bootstrap {
            admin_key: admin_key.map(Redacted::into_inner),
            data_plane_token: data_plane_token.map(Redacted::into_inner),
        })
    }
}

/// `init-secrets`.
#[derive(Debug, Clone, Args)]
pub struct InitSecretsArgs {
    /// Where to write them.
    #[arg(long)]
    pub dir: PathBuf,
}

/// `demo-upstream`.
#[derive(Debug, Clone, Args)]
pub struct DemoUpstreamArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen_addr: std::net::SocketAddr,
}

/// `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Control-plane settings.
    #[command(flatten)]
    pub control_plane: ControlPlaneArgs,
    /// The NATS server the outbox publishes to, and the control plane's user there.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// The cluster whose bus subjects the outbox publishes on (`mcpgw.<cluster>.…`), so
    /// control planes sharing a NATS server stay apart.
    #[arg(long, env = "MCPGW_CLUSTER", default_value = "default")]
    pub cluster: Cluster,
    /// TLS of the gRPC sync API.
    #[command(flatten)]
    pub grpc_tls: GrpcTlsArgs,
    /// Non-public ranges (CIDRs, addresses) and host names the control plane itself may
    /// connect to (the doctor's calls to upstreams), comma-separated; as on data planes.
    #[arg(long, env = "MCPGW_EGRESS_ALLOW", default_value = "")]
    pub egress_allow: mcpgw_data_plane::config::CommaList,
}

/// TLS of the gRPC sync API: a certificate and key make it TLS-only; a client CA makes it
/// mutual TLS (every data plane must present a certificate that CA signed).
#[derive(Debug, Clone, Default, Args)]
pub struct GrpcTlsArgs {
    /// PEM certificate chain of the gRPC listener, with `MCPGW_GRPC_TLS_KEY`.
    #[arg(long, env = "MCPGW_GRPC_TLS_CERT")]
    pub grpc_tls_cert: Option<PathBuf>,
    /// PEM private key of that certificate.
    #[arg(long, env = "MCPGW_GRPC_TLS_KEY")]
    pub grpc_tls_key: Option<PathBuf>,
    /// PEM bundle of the CA that signs data planes' client certificates (mutual TLS).
    #[arg(long, env = "MCPGW_GRPC_TLS_CLIENT_CA")]
    pub grpc_tls_client_ca: Option<PathBuf>,
}

/// `standalone`.
#[derive(Debug, Clone, Args)]
pub struct StandaloneArgs {
    /// Control-plane settings.
    #[command(flatten)]
    pub control_plane: ControlPlaneArgs,
    /// Data-plane (gateway) settings.
    #[command(flatten)]
    pub gateway: mcpgw_data_plane::Settings,
}

#[cfg(test)]
mod tests;
