//! The data plane's configuration, in one place: command-line flags, each with its `MCPGW_*`
//! variable. [`Settings`] are what the gateway itself needs (flattened into the control plane's
//! `standalone` command too); [`ServeArgs`] add what `mcpgw-data-plane serve` needs to sync.
//! [`Gateway`] validates them into runtime handles.
//!
//! [`Gateway`]: crate::Gateway

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mcpgw_shared::Redacted;
use mcpgw_shared::nats::NatsArgs;
use mcpgw_shared::secret::Keyring;
use mcpgw_shared::secret_file::{SecretFileError, value_or_file};
use mcpgw_shared::subjects::Cluster;
use url::Url;

/// Defaults, shared by the flags and by [`Settings::new`].
mod defaults {
    pub const LISTEN_ADDR: &str = "127.0.0.1:8080";
    pub const SESSION_MAX_AGE: &str = "24h";
    pub const MAX_BODY_BYTES: &str = "4194304";
    pub const UPSTREAM_CONNECT_TIMEOUT: &str = "5s";
    pub const UPSTREAM_TIMEOUT: &str = "120s";
    pub const SSE_KEEPALIVE: &str = "15s";
    pub const UPSTREAM_IDLE_TIMEOUT: &str = "300s";
    pub const DRAIN_TIMEOUT: &str = "10s";
    pub const HEADER_READ_TIMEOUT: &str = "10s";
    pub const BODY_READ_TIMEOUT: &str = "30s";
    pub const MAX_STREAMS_PER_KEY: &str = "64";
}

/// What the relay needs to know besides the configuration store.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Where the data plane listens; decides whether loopback Host names are accepted.
    #[arg(long, env = "MCPGW_LISTEN_ADDR", default_value = defaults::LISTEN_ADDR)]
    pub listen_addr: SocketAddr,
    /// The public URL of the data plane.
    #[arg(long, env = "MCPGW_PUBLIC_BASE_URL")]
    pub public_base_url: Option<Url>,
    /// Extra accepted Host names, comma-separated; `*` accepts any.
    #[arg(long, env = "MCPGW_ALLOWED_HOSTS", default_value = "")]
    pub allowed_hosts: CommaList,
    /// Accepted browser origins, comma-separated.
    #[arg(long, env = "MCPGW_ALLOWED_ORIGINS", default_value = "")]
    pub allowed_origins: CommaList,
    /// Proxies whose `X-Forwarded-Host` is believed: IPs or CIDRs, comma-separated.
    #[arg(long, env = "MCPGW_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: CommaList,
    /// Keys that seal session ids, `kid:base64key[,kid:base64key…]`: the first seals, all open.
    /// Required by `mcpgw-data-plane serve`; standalone mode generates one.
    #[arg(long, env = "MCPGW_SESSION_KEYS", hide_env_values = true)]
    pub session_keys: Option<Keyring>,
    /// The key that seals users' upstream tokens (per-user OAuth servers) before they are
    /// stored by the control plane, which never holds it: a keyring `kid:base64key[,...]` (the
    /// first key seals, every key opens, so keys rotate), the same on every data plane of the
    /// cluster. Unset: per-user OAuth servers answer that this data plane cannot sign users
    /// in. Standalone mode generates one.
    #[arg(long, env = "MCPGW_TOKEN_KEY", hide_env_values = true)]
    pub token_key: Option<Keyring>,
    /// How long a session id stays valid.
    #[arg(long, env = "MCPGW_SESSION_MAX_AGE", default_value = defaults::SESSION_MAX_AGE,
          value_parser = humantime::parse_duration)]
    pub session_max_age: Duration,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MCPGW_MAX_BODY_BYTES", default_value = defaults::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Upstream TCP/TLS connect timeout (then 502).
    #[arg(long, env = "MCPGW_UPSTREAM_CONNECT_TIMEOUT",
          default_value = defaults::UPSTREAM_CONNECT_TIMEOUT, value_parser = humantime::parse_duration)]
    pub upstream_connect_timeout: Duration,
    /// Time allowed for an upstream's response headers (then 504).
    #[arg(long, env = "MCPGW_UPSTREAM_TIMEOUT", default_value = defaults::UPSTREAM_TIMEOUT,
          value_parser = humantime::parse_duration)]
    pub upstream_timeout: Duration,
    /// Longest silence from an upstream streaming the answer to a request (then the client
    /// gets a JSON-RPC error naming the server, and the stream ends).
    #[arg(long, env = "MCPGW_UPSTREAM_IDLE_TIMEOUT", default_value = defaults::UPSTREAM_IDLE_TIMEOUT,
          value_parser = humantime::parse_duration)]
    pub upstream_idle_timeout: Duration,
    /// Idle time after which an SSE stream gets a keep-alive comment.
    #[arg(long = "sse-keep-alive", env = "MCPGW_SSE_KEEPALIVE", default_value = defaults::SSE_KEEPALIVE,
          value_parser = humantime::parse_duration)]
    pub sse_keep_alive: Duration,
    /// How long open POST streams may finish after shutdown begins; GET streams end at once
    /// (clients resume elsewhere).
    #[arg(long, env = "MCPGW_DRAIN_TIMEOUT", default_value = defaults::DRAIN_TIMEOUT,
          value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    /// Client headers forwarded upstream besides the MCP ones, comma-separated.
    #[arg(long, env = "MCPGW_FORWARD_HEADERS", default_value = "")]
    pub forward_headers: CommaList,
    /// Non-public ranges (CIDRs, addresses) and host names the gateway may connect to,
    /// comma-separated; everything else must be a public address. Standalone mode allows
    /// loopback when this is empty.
    #[arg(long, env = "MCPGW_EGRESS_ALLOW", default_value = "")]
    pub egress_allow: CommaList,
    /// Time allowed for a request's headers to arrive (then the connection is closed).
    #[arg(long, env = "MCPGW_HEADER_READ_TIMEOUT", default_value = defaults::HEADER_READ_TIMEOUT,
          value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// Time allowed for a request's body to arrive (then 408).
    #[arg(long, env = "MCPGW_BODY_READ_TIMEOUT", default_value = defaults::BODY_READ_TIMEOUT,
          value_parser = humantime::parse_duration)]
    pub body_read_timeout: Duration,
    /// Most open streams (SSE answers and GET streams) one key may hold on one pod (then 429).
    #[arg(long, env = "MCPGW_MAX_STREAMS_PER_KEY", default_value = defaults::MAX_STREAMS_PER_KEY)]
    pub max_streams_per_key: usize,
    /// Send a record of every MCP request to the control plane's request log (over the bus,
    /// in batches). `false` keeps request records inside the pod (metrics and traces still
    /// work).
    #[arg(long, env = "MCPGW_REQUEST_LOG_EXPORT", default_value = "true",
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub request_log_export: bool,
    /// Accept external identity providers: bearer JWTs of a workspace's `jwt_validation`, and
    /// sign-in through a workspace's `identity_provider`. `false` refuses both with 403 saying
    /// why (API keys and the gateway's own OAuth tokens keep working).
    #[arg(long, env = "MCPGW_EXTERNAL_AUTH", default_value = "true",
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub external_auth: bool,
}

/// The data plane's command line.
#[derive(Debug, Parser)]
#[command(name = "mcpgw-data-plane", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serves `/{slug}/mcp` with the configuration of the workspaces this data plane's token
    /// serves. Every flag can be given as its `MCPGW_*` variable; see the README.
    Serve(Box<ServeArgs>),
    /// Asks a URL (such as this pod's `/readyz`) and exits 0 on a 2xx answer: the container
    /// image's health check.
    Health(crate::health::ProbeArgs),
}

/// `mcpgw-data-plane serve`: the gateway's settings and where its configuration comes from.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The gateway.
    #[command(flatten)]
    pub gateway: Settings,
    /// The control plane's gRPC URL: `https://` (TLS), or `http://` on loopback.
    #[arg(
        long,
        env = "MCPGW_CONTROL_PLANE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub control_plane_url: String,
    /// TLS of the sync link.
    #[command(flatten)]
    pub link: SyncLinkArgs,
    /// The cluster whose bus subjects this data plane reads (`mcpgw.<cluster>.…`); the same
    /// as its control plane's.
    #[arg(long, env = "MCPGW_CLUSTER", default_value = "default")]
    pub cluster: Cluster,
    /// This data plane's token, from `POST /v1/data-planes`.
    #[arg(long, env = "MCPGW_DATA_PLANE_TOKEN", hide_env_values = true)]
    pub data_plane_token: Option<Redacted<String>>,
    /// A file holding the token, instead of `MCPGW_DATA_PLANE_TOKEN`.
    #[arg(long, env = "MCPGW_DATA_PLANE_TOKEN_FILE")]
    pub data_plane_token_file: Option<PathBuf>,
    /// A file holding the session keyring, instead of `MCPGW_SESSION_KEYS`.
    #[arg(long, env = "MCPGW_SESSION_KEYS_FILE")]
    pub session_keys_file: Option<PathBuf>,
    /// A file holding the token-sealing keyring, instead of `MCPGW_TOKEN_KEY`.
    #[arg(long, env = "MCPGW_TOKEN_KEY_FILE")]
    pub token_key_file: Option<PathBuf>,
    /// The NATS server (or leaf node) carrying change events, and this data plane's user.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Local state (the last-known-good configuration file).
    #[arg(long, env = "MCPGW_DATA_DIR", default_value = ".mcpgw")]
    pub data_dir: PathBuf,
    /// Stop serving (503) once cut off from NATS and the control plane for this long, such as
    /// `5m`; unset: serve the last known configuration indefinitely.
    #[arg(long, env = "MCPGW_MAX_STALENESS", value_parser = humantime::parse_duration)]
    pub max_staleness: Option<Duration>,
}

/// A secret of `serve` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServeSecretError {
    /// Neither the token nor its file is set.
    #[error(
        "set MCPGW_DATA_PLANE_TOKEN (or MCPGW_DATA_PLANE_TOKEN_FILE) to the token from POST /v1/data-planes"
    )]
    NoToken,
    /// A variable or its file is unusable.
    #[error(transparent)]
    File(#[from] SecretFileError),
    /// The session keyring file does not hold a keyring.
    #[error("MCPGW_SESSION_KEYS_FILE: {0}")]
    Keyring(#[from] mcpgw_shared::SecretError),
}

impl ServeArgs {
    /// The token, from `MCPGW_DATA_PLANE_TOKEN` or its file.
    pub fn token(&self) -> Result<Redacted<String>, ServeSecretError> {
        value_or_file(
            "MCPGW_DATA_PLANE_TOKEN",
            self.data_plane_token.as_ref(),
            self.data_plane_token_file.as_deref(),
        )?
        .ok_or(ServeSecretError::NoToken)
    }

    /// Reads `MCPGW_SESSION_KEYS_FILE` and `MCPGW_TOKEN_KEY_FILE` into the gateway's
    /// settings, when they are set.
    pub fn load_keyrings(&mut self) -> Result<(), ServeSecretError> {
        load_keyring(
            "MCPGW_SESSION_KEYS",
            self.session_keys_file.as_deref(),
            &mut self.gateway.session_keys,
        )?;
        load_keyring(
            "MCPGW_TOKEN_KEY",
            self.token_key_file.as_deref(),
            &mut self.gateway.token_key,
        )
    }
}

/// Reads the keyring `variable` names from `file` into `keyring`, when a file is given (and
/// the variable is not set as well).
fn load_keyring(
    variable: &'static str,
    file: Option<&std::path::Path>,
    keyring: &mut Option<Keyring>,
) -> Result<(), ServeSecretError> {
    let Some(path) = file else {
        return Ok(());
    };
    if keyring.is_some() {
        return Err(SecretFileError::Both { variable }.into());
    }
    if let Some(text) = value_or_file(variable, None, Some(path))? {
        *keyring = Some(Keyring::parse(text.expose())?);
    }
    Ok(())
}

/// TLS of the link to the control plane (see [`crate::sync::SyncLink`]).
#[derive(Debug, Clone, Default, Args)]
pub struct SyncLinkArgs {
    /// PEM bundle of the CA that signs the control plane's certificate; unset: the system's
    /// roots.
    #[arg(long, env = "MCPGW_CONTROL_PLANE_CA")]
    pub control_plane_ca: Option<PathBuf>,
    /// PEM client certificate for mutual TLS, with `MCPGW_CONTROL_PLANE_CLIENT_KEY`.
    #[arg(long, env = "MCPGW_CONTROL_PLANE_CLIENT_CERT")]
    pub control_plane_client_cert: Option<PathBuf>,
    /// PEM private key of that certificate.
    #[arg(long, env = "MCPGW_CONTROL_PLANE_CLIENT_KEY")]
    pub control_plane_client_key: Option<PathBuf>,
    /// Accept `http://` to a control plane that is not on loopback: upstream secrets and the
    /// token then cross the network in clear text.
    #[arg(long, env = "MCPGW_INSECURE_SYNC", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::FalseyValueParser::new())]
    pub insecure_sync: bool,
}

impl Settings {
    /// Defaults for a gateway on `listen_addr` sealing sessions with `session_keys` (tests and
    /// embedding; the binaries read flags and variables).
    pub fn new(listen_addr: SocketAddr, session_keys: Keyring) -> Self {
        let duration = |text| humantime::parse_duration(text).expect("the built-in defaults parse");
        Self {
            listen_addr,
            public_base_url: None,
            allowed_hosts: CommaList::default(),
            allowed_origins: CommaList::default(),
            trusted_proxies: CommaList::default(),
            session_keys: Some(session_keys),
            token_key: None,
            session_max_age: duration(defaults::SESSION_MAX_AGE),
            max_body_bytes: defaults::MAX_BODY_BYTES
                .parse()
                .expect("the built-in defaults parse"),
            upstream_connect_timeout: duration(defaults::UPSTREAM_CONNECT_TIMEOUT),
            upstream_timeout: duration(defaults::UPSTREAM_TIMEOUT),
            upstream_idle_timeout: duration(defaults::UPSTREAM_IDLE_TIMEOUT),
            sse_keep_alive: duration(defaults::SSE_KEEPALIVE),
            drain_timeout: duration(defaults::DRAIN_TIMEOUT),
            forward_headers: CommaList::default(),
            egress_allow: CommaList::default(),
            header_read_timeout: duration(defaults::HEADER_READ_TIMEOUT),
            body_read_timeout: duration(defaults::BODY_READ_TIMEOUT),
            max_streams_per_key: defaults::MAX_STREAMS_PER_KEY
                .parse()
                .expect("the built-in defaults parse"),
            request_log_export: true,
            external_auth: true,
        }
    }
}

/// The settings cannot make a gateway.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A required setting is not set.
    #[error("{0} is required (see the README's configuration table)")]
    Missing(&'static str),
    /// The Host/Origin settings are inconsistent.
    #[error(transparent)]
    HostPolicy(#[from] crate::admission::HostPolicyError),
    /// An entry of MCPGW_EGRESS_ALLOW is not usable.
    #[error(transparent)]
    Egress(#[from] crate::egress::BadEgressEntry),
    /// A header name in MCPGW_FORWARD_HEADERS is not valid.
    #[error("`{0}` in MCPGW_FORWARD_HEADERS is not a header name")]
    ForwardHeader(String),
    /// MCPGW_PUBLIC_BASE_URL cannot prefix the gateway's public URLs.
    #[error(
        "MCPGW_PUBLIC_BASE_URL `{0}` must be an absolute http(s) URL without query or fragment, such as https://mcp.example.com"
    )]
    PublicBaseUrl(String),
}

impl Settings {
    /// The URL browsers and clients reach this gateway at: `MCPGW_PUBLIC_BASE_URL`, else the
    /// address it listens on (`addr`, with an unspecified IP taken as loopback).
    pub fn public_base(&self, addr: SocketAddr) -> Result<url::Url, SettingsError> {
        match &self.public_base_url {
            Some(url) => {
                let usable = matches!(url.scheme(), "http" | "https")
                    && url.has_host()
                    && url.query().is_none()
                    && url.fragment().is_none();
                usable
                    .then(|| url.clone())
                    .ok_or_else(|| SettingsError::PublicBaseUrl(url.to_string()))
            }
            None => {
                let host = if addr.ip().is_unspecified() {
                    std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
                } else {
                    addr
                };
                Ok(url::Url::parse(&format!("http://{host}")).expect("a socket address is a host"))
            }
        }
    }
}

/// A comma-separated list setting: entries trimmed, empty ones (an empty variable) dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommaList(pub Vec<String>);

impl std::str::FromStr for CommaList {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(
            s.split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(str::to_owned)
                .collect(),
        ))
    }
}

impl std::ops::Deref for CommaList {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests;
