//! How a data plane reaches its control plane's sync API. The link carries decrypted upstream
//! secrets and the pod's token, so it never crosses a network in clear text: `https://` runs
//! TLS (the control plane's CA from `MCPGW_CONTROL_PLANE_CA`, else the system's roots), with a
//! client certificate for mutual TLS when one is given; `http://` is accepted for loopback
//! only, unless `MCPGW_INSECURE_SYNC` says otherwise (and a warning says so at start-up).

use std::time::Duration;

use mcpgw_shared::secret_file::{NamedFileError, read_named};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use url::{Host, Url};

use crate::config::SyncLinkArgs;

/// The sync link's settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Not an `http(s)://` URL with a host.
    #[error("MCPGW_CONTROL_PLANE_URL `{0}` is not an http:// or https:// URL with a host")]
    BadUrl(String),
    /// Clear text to a host that is not loopback.
    #[error(
        "MCPGW_CONTROL_PLANE_URL uses http:// to {0}, which is not loopback: the sync link carries upstream secrets and the data-plane token, so use https:// (see MCPGW_CONTROL_PLANE_CA), or set MCPGW_INSECURE_SYNC=1 to accept clear text on a network you trust"
    )]
    ClearText(String),
    /// TLS files given for a clear-text URL.
    #[error(
        "MCPGW_CONTROL_PLANE_CA and the client certificate apply to https:// only; MCPGW_CONTROL_PLANE_URL is http://"
    )]
    TlsWithoutHttps,
    /// Only one half of the client identity.
    #[error(
        "mutual TLS needs both MCPGW_CONTROL_PLANE_CLIENT_CERT and MCPGW_CONTROL_PLANE_CLIENT_KEY"
    )]
    HalfIdentity,
    /// A PEM file cannot be read.
    #[error(transparent)]
    File(#[from] NamedFileError),
    /// tonic refused the TLS settings.
    #[error("the TLS settings for the control plane are not usable: {0}")]
    Tls(String),
}

/// A validated link: the endpoint to connect to (lazily).
#[derive(Debug, Clone)]
pub struct SyncLink {
    endpoint: Endpoint,
}

impl SyncLink {
    /// Validates `url` and the TLS settings of `args`.
    pub fn new(url: &str, args: &SyncLinkArgs) -> Result<Self, LinkError> {
        let parsed = Url::parse(url).map_err(|_| LinkError::BadUrl(url.to_owned()))?;
        let host = parsed
            .host()
            .ok_or_else(|| LinkError::BadUrl(url.to_owned()))?;
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|_| LinkError::BadUrl(url.to_owned()))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        let has_tls_files = args.control_plane_ca.is_some()
            || args.control_plane_client_cert.is_some()
            || args.control_plane_client_key.is_some();
        match parsed.scheme() {
            "https" => {
                let tls = tls_config(args)?;
                let endpoint = endpoint
                    .tls_config(tls)
                    .map_err(|e| LinkError::Tls(e.to_string()))?;
                Ok(Self { endpoint })
            }
            "http" if has_tls_files => Err(LinkError::TlsWithoutHttps),
            "http" if is_loopback(&host) => Ok(Self { endpoint }),
            "http" if args.insecure_sync => {
                tracing::warn!(
                    host = %host,
                    "MCPGW_INSECURE_SYNC is set: config sync (upstream secrets, the data-plane token) crosses the network in clear text"
                );
                Ok(Self { endpoint })
            }
            "http" => Err(LinkError::ClearText(host.to_string())),
            _ => Err(LinkError::BadUrl(url.to_owned())),
        }
    }

    /// A clear-text link to a control plane on loopback (standalone mode, tests).
    pub fn loopback(addr: std::net::SocketAddr) -> Result<Self, LinkError> {
        Self::new(&format!("http://{addr}"), &SyncLinkArgs::default())
    }

    /// The endpoint, connected lazily.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

fn tls_config(args: &SyncLinkArgs) -> Result<ClientTlsConfig, LinkError> {
    let mut tls = ClientTlsConfig::new();
    tls = match &args.control_plane_ca {
        Some(path) => tls.ca_certificate(Certificate::from_pem(read_named(
            "MCPGW_CONTROL_PLANE_CA",
            path,
        )?)),
        None => tls.with_native_roots(),
    };
    match (
        &args.control_plane_client_cert,
        &args.control_plane_client_key,
    ) {
        (Some(cert), Some(key)) => {
            let cert = read_named("MCPGW_CONTROL_PLANE_CLIENT_CERT", cert)?;
            let key = read_named("MCPGW_CONTROL_PLANE_CLIENT_KEY", key)?;
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        (None, None) => {}
        _ => return Err(LinkError::HalfIdentity),
    }
    Ok(tls)
}

#[cfg(test)]
mod tests;
