//! Settings of the gateway (read from `MCPGW_*` variables by the binary, or built in code by
//! the control plane's standalone mode), validated into runtime handles by [`Gateway`].
//!
//! [`Gateway`]: crate::Gateway

use std::net::SocketAddr;
use std::time::Duration;

use mcpgw_shared::secret::{Keyring, SecretError};
use url::Url;

/// What the relay needs to know besides the configuration store.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the data plane listens (`MCPGW_LISTEN_ADDR`); decides whether loopback Host names
    /// are accepted.
    pub listen_addr: SocketAddr,
    /// The public URL of the data plane (`MCPGW_PUBLIC_BASE_URL`).
    pub public_base_url: Option<Url>,
    /// Extra accepted Host names (`MCPGW_ALLOWED_HOSTS`, comma-separated; `*` accepts any).
    pub allowed_hosts: Vec<String>,
    /// Accepted browser origins (`MCPGW_ALLOWED_ORIGINS`).
    pub allowed_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-Host` is believed (`MCPGW_TRUSTED_PROXIES`: IPs or CIDRs).
    pub trusted_proxies: Vec<String>,
    /// Keys that seal session ids (`MCPGW_SESSION_KEYS`).
    pub session_keys: Keyring,
    /// How long a session id stays valid (`MCPGW_SESSION_MAX_AGE`, default 24h).
    pub session_max_age: Duration,
    /// Largest accepted request body (`MCPGW_MAX_BODY_BYTES`, default 4 MiB).
    pub max_body_bytes: usize,
    /// Upstream TCP/TLS connect timeout (`MCPGW_UPSTREAM_CONNECT_TIMEOUT`, default 5s).
    pub upstream_connect_timeout: Duration,
    /// Time allowed for an upstream's response headers (`MCPGW_UPSTREAM_TIMEOUT`, default 120s).
    pub upstream_timeout: Duration,
    /// Idle time after which an SSE stream gets a keep-alive comment (`MCPGW_SSE_KEEPALIVE`,
    /// default 15s).
    pub sse_keep_alive: Duration,
    /// How long open POST streams may finish after shutdown begins (`MCPGW_DRAIN_TIMEOUT`,
    /// default 10s); GET streams end at once (clients resume elsewhere).
    pub drain_timeout: Duration,
    /// Client headers forwarded upstream besides the MCP ones (`MCPGW_FORWARD_HEADERS`).
    pub forward_headers: Vec<String>,
}

impl Settings {
    /// Defaults for a gateway on `listen_addr` sealing sessions with `session_keys`.
    pub fn new(listen_addr: SocketAddr, session_keys: Keyring) -> Self {
        Self {
            listen_addr,
            public_base_url: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            session_keys,
            session_max_age: Duration::from_secs(24 * 3600),
            max_body_bytes: 4 * 1024 * 1024,
            upstream_connect_timeout: Duration::from_secs(5),
            upstream_timeout: Duration::from_secs(120),
            sse_keep_alive: Duration::from_secs(15),
            drain_timeout: Duration::from_secs(10),
            forward_headers: Vec::new(),
        }
    }

    /// Reads the settings from `MCPGW_*` variables through `var` (the environment, in the
    /// binary). `MCPGW_SESSION_KEYS` is required: no default key is shipped.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let keys = var("MCPGW_SESSION_KEYS").ok_or(SettingsError::Missing("MCPGW_SESSION_KEYS"))?;
        let keys = Keyring::parse(&keys).map_err(SettingsError::SessionKeys)?;
        let listen = var("MCPGW_LISTEN_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen_addr = listen.parse().map_err(|_| SettingsError::Invalid {
            name: "MCPGW_LISTEN_ADDR",
            value: listen,
        })?;
        let mut s = Self::new(listen_addr, keys);
        if let Some(url) = var("MCPGW_PUBLIC_BASE_URL") {
            s.public_base_url = Some(Url::parse(&url).map_err(|_| SettingsError::Invalid {
                name: "MCPGW_PUBLIC_BASE_URL",
                value: url,
            })?);
        }
        let list = |name| -> Vec<String> {
            var(name)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        s.allowed_hosts = list("MCPGW_ALLOWED_HOSTS");
        s.allowed_origins = list("MCPGW_ALLOWED_ORIGINS");
        s.trusted_proxies = list("MCPGW_TRUSTED_PROXIES");
        s.forward_headers = list("MCPGW_FORWARD_HEADERS");
        let duration = |name: &'static str, default: Duration| -> Result<Duration, SettingsError> {
            match var(name) {
                None => Ok(default),
                Some(v) => humantime::parse_duration(&v)
                    .map_err(|_| SettingsError::Invalid { name, value: v }),
            }
        };
        s.session_max_age = duration("MCPGW_SESSION_MAX_AGE", s.session_max_age)?;
        s.upstream_connect_timeout =
            duration("MCPGW_UPSTREAM_CONNECT_TIMEOUT", s.upstream_connect_timeout)?;
        s.upstream_timeout = duration("MCPGW_UPSTREAM_TIMEOUT", s.upstream_timeout)?;
        s.sse_keep_alive = duration("MCPGW_SSE_KEEPALIVE", s.sse_keep_alive)?;
        s.drain_timeout = duration("MCPGW_DRAIN_TIMEOUT", s.drain_timeout)?;
        if let Some(v) = var("MCPGW_MAX_BODY_BYTES") {
            s.max_body_bytes = v.parse().map_err(|_| SettingsError::Invalid {
                name: "MCPGW_MAX_BODY_BYTES",
                value: v,
            })?;
        }
        Ok(s)
    }
}

/// The settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A required variable is not set.
    #[error("{0} is required (see the README's configuration table)")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("{name}=`{value}` is not valid")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// The session keyring is malformed.
    #[error("MCPGW_SESSION_KEYS: {0}")]
    SessionKeys(SecretError),
    /// The Host/Origin settings are inconsistent.
    #[error(transparent)]
    HostPolicy(#[from] crate::auth::HostPolicyError),
    /// A header name in MCPGW_FORWARD_HEADERS is not valid.
    #[error("`{0}` in MCPGW_FORWARD_HEADERS is not a header name")]
    ForwardHeader(String),
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn session_keys_are_required_and_everything_else_has_a_default() {
        assert!(matches!(
            read(&[]),
            Err(SettingsError::Missing("MCPGW_SESSION_KEYS"))
        ));
        let key = mcpgw_shared::secret::generate_base64_key();
        let s = read(&[("MCPGW_SESSION_KEYS", &format!("k1:{key}"))]).unwrap();
        assert_eq!(s.listen_addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(s.session_keys.sealing_key_id(), "k1");
    }

    #[test]
    fn values_are_read_and_bad_ones_named() {
        let keys = format!("k1:{}", mcpgw_shared::secret::generate_base64_key());
        let s = read(&[
            ("MCPGW_SESSION_KEYS", &keys),
            ("MCPGW_LISTEN_ADDR", "0.0.0.0:9000"),
            ("MCPGW_PUBLIC_BASE_URL", "https://mcp.example.com"),
            (
                "MCPGW_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("MCPGW_UPSTREAM_TIMEOUT", "30s"),
            ("MCPGW_SSE_KEEPALIVE", "5s"),
            ("MCPGW_MAX_BODY_BYTES", "1024"),
            ("MCPGW_FORWARD_HEADERS", "x-tenant"),
        ])
        .unwrap();
        assert_eq!(
            s.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(s.upstream_timeout, Duration::from_secs(30));
        assert_eq!(s.sse_keep_alive, Duration::from_secs(5));
        assert_eq!((s.max_body_bytes, s.forward_headers.len()), (1024, 1));
        let bad = read(&[
            ("MCPGW_SESSION_KEYS", &keys),
            ("MCPGW_DRAIN_TIMEOUT", "soon"),
        ])
        .unwrap_err();
        assert!(bad.to_string().contains("MCPGW_DRAIN_TIMEOUT"), "{bad}");
        let bad = read(&[("MCPGW_SESSION_KEYS", "nonsense")]).unwrap_err();
        assert!(bad.to_string().contains("MCPGW_SESSION_KEYS"), "{bad}");
    }
}
