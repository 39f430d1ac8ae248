//! DNS-rebinding protection: which `Host` names the gateway answers to, which browser `Origin`s
//! may call it, and which proxies' `X-Forwarded-Host` to believe. The first admission step.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use http::HeaderMap;
use http::request::Parts;
use ipnet::IpNet;
use url::Url;

use crate::errors::{Failure, GatewayError};
use mcpgw_shared::request_id::RequestId;

const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The Host/Origin settings could not be turned into a policy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HostPolicyError {
    /// Bound to a non-loopback address with no public URL or allowed hosts.
    #[error(
        "binding a non-loopback address needs MCPGW_PUBLIC_BASE_URL or MCPGW_ALLOWED_HOSTS, so the gateway knows which Host names are its own"
    )]
    NoPublicHost,
    /// An entry of MCPGW_TRUSTED_PROXIES is not an IP address or CIDR range.
    #[error(
        "`{0}` in MCPGW_TRUSTED_PROXIES is not an IP address or CIDR range (such as 10.0.0.0/8)"
    )]
    BadProxy(String),
}

/// The Host/Origin policy.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    any_host: bool,
    loopback_origins: bool,
    hosts: Vec<String>,
    origins: Vec<String>,
    proxies: Vec<IpNet>,
}

/// The request's host or origin is not one this gateway answers to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The host (or trusted forwarded host) is not allowed.
    #[error("host `{0}` is not allowed")]
    HostNotAllowed(String),
    /// The browser origin is not allowed.
    #[error("origin `{0}` is not allowed")]
    OriginNotAllowed(String),
}

impl From<HostError> for GatewayError {
    fn from(error: HostError) -> Self {
        match error {
            HostError::HostNotAllowed(host) => Self::HostNotAllowed(host),
            HostError::OriginNotAllowed(origin) => Self::OriginNotAllowed(origin),
        }
    }
}

/// Splits `host[:port]` (or `[v6]:port`) into the lowercased name and the full text.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host.clone(), |(h, _)| format!("{h}]"));
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
        _ => host,
    }
}

fn url_host(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Whether `origin` is `http(s)://` a loopback name, any port: a page served from this very
/// machine, which a gateway bound to loopback accepts (DNS rebinding shows a foreign name).
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    LOOPBACK_NAMES.contains(&host_name(rest).as_str())
}

impl HostPolicy {
    /// Builds the policy from the settings; `bound_loopback` says whether the listener is on a
    /// loopback address (then loopback Host names are accepted too).
    pub fn new(
        allowed_hosts: &[String],
        allowed_origins: &[String],
        trusted_proxies: &[String],
        public_base_url: Option<&Url>,
        bound_loopback: bool,
    ) -> Result<Self, HostPolicyError> {
        let mut hosts: Vec<String> = allowed_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let any_host = hosts.iter().any(|h| h == "*");
        hosts.extend(public_base_url.and_then(url_host));
        if bound_loopback {
            hosts.extend(LOOPBACK_NAMES.iter().map(|h| (*h).to_owned()));
        } else if hosts.is_empty() {
            return Err(HostPolicyError::NoPublicHost);
        }
        let proxies = trusted_proxies
            .iter()
            .map(|p| {
                let p = p.trim();
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| HostPolicyError::BadProxy(p.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        let origins = allowed_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .collect();
        Ok(Self {
            any_host,
            loopback_origins: bound_loopback,
            hosts,
            origins,
            proxies,
        })
    }

    /// A policy for a gateway on loopback with no other names (tests, standalone).
    pub fn loopback() -> Self {
        Self::new(&[], &[], &[], None, true).expect("a loopback policy always builds")
    }

    /// Whether `peer` is a proxy whose forwarded headers are believed.
    pub fn trusts(&self, peer: Option<IpAddr>) -> bool {
        peer.map(|ip| ip.to_canonical())
            .is_some_and(|ip| self.proxies.iter().any(|net| net.contains(&ip)))
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self.any_host {
            return true;
        }
        let full = host.trim().to_ascii_lowercase();
        let name = host_name(&full);
        self.hosts.iter().any(|h| *h == full || *h == name)
    }

    /// Checks the request's host (the forwarded one when `peer` is a trusted proxy) and its
    /// `Origin`, if any. Of a forwarded host, the value the nearest proxy added (the rightmost)
    /// is the one believed: what a client sent ahead of it is not the trusted proxy's word.
    pub fn check(
        &self,
        headers: &HeaderMap,
        uri_host: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Result<(), HostError> {
        let forwarded = self
            .trusts(peer)
            .then(|| headers.get_all("x-forwarded-host").iter().next_back())
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim);
        let host = forwarded
            .or_else(|| {
                headers
                    .get(http::header::HOST)
                    .and_then(|v| v.to_str().ok())
            })
            .or(uri_host)
            .unwrap_or("");
        if !self.host_allowed(host) {
            return Err(HostError::HostNotAllowed(host.chars().take(100).collect()));
        }
        if let Some(origin) = headers.get(http::header::ORIGIN) {
            let origin = origin
                .to_str()
                .unwrap_or("")
                .trim()
                .trim_end_matches('/')
                .to_ascii_lowercase();
            let allowed = self.origins.contains(&origin)
                || (self.loopback_origins && is_loopback_origin(&origin));
            if !allowed {
                return Err(HostError::OriginNotAllowed(
                    origin.chars().take(100).collect(),
                ));
            }
        }
        Ok(())
    }
}

/// The Host/Origin check passed.
#[derive(Debug, Clone, Copy)]
pub struct HostChecked;

impl<S> FromRequestParts<S> for HostChecked
where
    Arc<HostPolicy>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Arc::<HostPolicy>::from_ref(state)
            .check(
                &parts.headers,
                parts.uri.authority().map(|a| a.as_str()),
                peer,
            )
            .map(|()| Self)
            .map_err(|e| {
                GatewayError::from(e)
                    .into_failure(&RequestId::from_extensions(&parts.extensions), None)
            })
    }
}

#[cfg(test)]
mod tests;
