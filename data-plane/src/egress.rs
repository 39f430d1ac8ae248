//! The egress policy: every connection the data plane opens because configuration or metadata
//! named a URL (upstream MCP servers; later OAuth discovery, token, registration and CIMD
//! endpoints) goes to a public address, unless `MCPGW_EGRESS_ALLOW` allows the range or the host
//! name. Loopback, private, link-local, CGNAT, documentation, multicast and cloud-metadata
//! addresses are refused otherwise.
//!
//! The check is made on the resolved address at connect time: the HTTP client resolves names
//! through [`PolicyResolver`], which hands the connector only permitted addresses, so a name that
//! resolves to a public address when configured and to `169.254.169.254` when called (DNS
//! rebinding) is still refused. IP literals never reach a resolver, so [`EgressPolicy::check_url`]
//! is called before every request.

mod ranges;
mod resolver;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use url::{Host, Url};

pub use resolver::PolicyResolver;

/// The variable that widens the policy, named in every refusal.
pub const EGRESS_ALLOW_VAR: &str = "MCPGW_EGRESS_ALLOW";

/// Host names of cloud metadata services, refused by name whatever they resolve to.
const METADATA_HOSTS: [&str; 3] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata.azure.internal",
];

/// Which non-public destinations are allowed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    networks: Vec<IpNet>,
    hosts: Vec<String>,
}

/// An entry of `MCPGW_EGRESS_ALLOW` that is neither a CIDR, an IP address nor a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` in MCPGW_EGRESS_ALLOW is not a CIDR range, an IP address or a host name")]
pub struct BadEgressEntry(String);

/// A destination the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} ({reason}) is not an allowed destination; an operator can allow it in MCPGW_EGRESS_ALLOW"
)]
pub struct EgressDenied {
    /// The host as named (a name or an address).
    pub host: String,
    /// Why it is refused.
    pub reason: DenialReason,
}

/// Why a destination is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialReason {
    /// It is, or resolves only to, a non-public address.
    NonPublic(IpAddr),
    /// It names a cloud metadata service.
    Metadata,
}

impl fmt::Display for DenialReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonPublic(ip) => write!(f, "non-public address {ip}"),
            Self::Metadata => f.write_str("a cloud metadata service"),
        }
    }
}

impl EgressPolicy {
    /// Only public destinations.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public destinations and loopback (standalone mode's default, for its demo upstream).
    pub fn with_loopback() -> Self {
        Self::parse(["127.0.0.0/8", "::1/128"]).expect("loopback ranges parse")
    }

    /// The policy of `MCPGW_EGRESS_ALLOW` entries: CIDRs, single addresses or host names.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, BadEgressEntry> {
        let mut policy = Self::default();
        for entry in entries {
            let entry = entry.trim();
            if let Ok(network) = entry.parse::<IpNet>() {
                policy.networks.push(network);
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                policy.networks.push(IpNet::from(ip));
            } else if is_host_name(entry) {
                policy
                    .hosts
                    .push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(BadEgressEntry(entry.chars().take(100).collect()));
            }
        }
        Ok(policy)
    }

    /// Whether the policy allows non-public loopback addresses (said at start-up).
    pub fn allows_loopback(&self) -> bool {
        self.permits_ip("127.0.0.1".parse().expect("an address"))
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        ranges::is_public(ip) || self.networks.iter().any(|n| n.contains(&ip))
    }

    /// Whether `host` is allowed by name, whatever it resolves to.
    fn allows_name(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    /// Checks what can be checked before resolving: IP literals, and names of metadata services
    /// (refused unless allowed by name).
    pub fn check_url(&self, url: &Url) -> Result<(), EgressDenied> {
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_ip(&ip.to_string(), IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_ip(&ip.to_string(), IpAddr::V6(ip)),
            Some(Host::Domain(name)) => self.check_name(name),
            None => Ok(()),
        }
    }

    fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), EgressDenied> {
        if self.permits_ip(ip) {
            Ok(())
        } else {
            Err(EgressDenied {
                host: host.to_owned(),
                reason: DenialReason::NonPublic(ip),
            })
        }
    }

    fn check_name(&self, name: &str) -> Result<(), EgressDenied> {
        let lower = name.trim_end_matches('.').to_ascii_lowercase();
        if METADATA_HOSTS.contains(&lower.as_str()) && !self.allows_name(&lower) {
            return Err(EgressDenied {
                host: name.to_owned(),
                reason: DenialReason::Metadata,
            });
        }
        Ok(())
    }

    /// The addresses of `host` that a connection may use: all of them for a host allowed by
    /// name, the permitted ones otherwise; refused when none is.
    pub fn filter(
        &self,
        host: &str,
        addresses: Vec<std::net::SocketAddr>,
    ) -> Result<Vec<std::net::SocketAddr>, EgressDenied> {
        self.check_name(host)?;
        if self.allows_name(host) {
            return Ok(addresses);
        }
        let first = addresses.first().map(std::net::SocketAddr::ip);
        let permitted: Vec<_> = addresses
            .into_iter()
            .filter(|a| self.permits_ip(a.ip()))
            .collect();
        match (permitted.is_empty(), first) {
            (false, _) => Ok(permitted),
            (true, Some(ip)) => Err(EgressDenied {
                host: host.to_owned(),
                reason: DenialReason::NonPublic(ip),
            }),
            (true, None) => Ok(permitted),
        }
    }
}

impl fmt::Debug for EgressPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressPolicy")
            .field("allowed_networks", &self.networks)
            .field("allowed_hosts", &self.hosts)
            .finish()
    }
}

fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// An HTTP client that connects only where `policy` allows (names are resolved through it),
/// follows no redirect and ignores proxies from the environment (a proxy would resolve names
/// itself, past the policy): every client of the gateway that config or metadata points
/// somewhere is built here.
pub fn http_client(
    policy: Arc<EgressPolicy>,
    connect_timeout: std::time::Duration,
) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(PolicyResolver::new(policy)))
        .build()
        .expect("the HTTP client builds with static settings")
}

/// `url` for logs: without its query and fragment, which may hold credentials.
pub fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.query().is_some() {
        shown.set_query(Some("[redacted]"));
    }
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    shown.to_string()
}

#[cfg(test)]
mod tests;
