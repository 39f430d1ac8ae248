//! Protocol versions and the 2026-07-28 routing headers. The gateway negotiates nothing: it
//! tells the two eras apart to apply each one's transport rules.

use http::HeaderMap;

use super::message::{Kind, Message};

/// `MCP-Protocol-Version`.
pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// `Mcp-Method` (2026-07-28).
pub const MCP_METHOD: &str = "mcp-method";
/// `Mcp-Name` (2026-07-28).
pub const MCP_NAME: &str = "mcp-name";
/// The stateless revision.
pub const MODERN: &str = "2026-07-28";
/// The one revision that had JSON-RPC batches.
pub const BATCH_VERSION: &str = "2025-03-26";
/// Versions assumed when a session-era request carries no header.
pub const DEFAULT_LEGACY: &str = "2025-03-26";

/// The versions of the session era the gateway relays.
pub const SESSION_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The versions of the stateless era the gateway relays.
pub const STATELESS_VERSIONS: [&str; 1] = [MODERN];

/// Every version the gateway relays.
pub const KNOWN_VERSIONS: [&str; 5] = [
    SESSION_VERSIONS[0],
    SESSION_VERSIONS[1],
    SESSION_VERSIONS[2],
    SESSION_VERSIONS[3],
    MODERN,
];

/// The protocol era of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-03-26 … 2025-11-25: sessions, GET stream, DELETE.
    Sessions,
    /// 2026-07-28: stateless, routing headers.
    Stateless,
}

/// The protocol headers disagree with each other or with the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EraError {
    /// `MCP-Protocol-Version` names a version the gateway does not know.
    #[error("unsupported protocol version `{requested}`")]
    UnsupportedVersion {
        /// The version asked for.
        requested: String,
        /// The versions of the era the request is shaped for: a request with `Mcp-Method`
        /// is a stateless one (SEP-2575's `data.supported` then names only 2026-07-28).
        supported: &'static [&'static str],
    },
    /// A routing header disagrees with the body.
    #[error("header `{header}` does not match the request body")]
    HeaderMismatch {
        /// The header.
        header: &'static str,
    },
    /// A header the gateway decides by appears more than once.
    #[error("header `{header}` appears more than once")]
    DuplicateHeader {
        /// The header.
        header: &'static str,
    },
}

/// The one value of a header the gateway decides by; more than one is refused.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &str,
    shown: &'static str,
) -> Result<Option<&'a http::HeaderValue>, EraError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(EraError::DuplicateHeader { header: shown });
    }
    Ok(first)
}

/// Reads `MCP-Protocol-Version` (of a POST, a GET or a DELETE alike): absent means a
/// session-era request (2025-03-26 when no session says otherwise); unknown versions are
/// refused.
pub fn era(headers: &HeaderMap) -> Result<(Era, Option<&str>), EraError> {
    let Some(value) = single(headers, PROTOCOL_VERSION, "MCP-Protocol-Version")? else {
        return Ok((Era::Sessions, None));
    };
    let version = value.to_str().unwrap_or("").trim();
    if !KNOWN_VERSIONS.contains(&version) {
        let supported: &'static [&'static str] = if headers.contains_key(MCP_METHOD) {
            &STATELESS_VERSIONS
        } else {
            &SESSION_VERSIONS
        };
        return Err(EraError::UnsupportedVersion {
            requested: version.chars().take(40).collect(),
            supported,
        });
    }
    let era = if version == MODERN {
        Era::Stateless
    } else {
        Era::Sessions
    };
    Ok((era, Some(version)))
}

/// Checks that `Mcp-Method` and `Mcp-Name` match the body of a 2026-07-28 message.
pub fn check_routing_headers(headers: &HeaderMap, message: &Message) -> Result<(), EraError> {
    let method = single(headers, MCP_METHOD, "Mcp-Method")?;
    let name = single(headers, MCP_NAME, "Mcp-Name")?;
    if message.kind == Kind::Response {
        return Ok(());
    }
    fn text(value: Option<&http::HeaderValue>) -> Option<&str> {
        value.map(|v| v.to_str().unwrap_or("\u{0}"))
    }
    if text(method) != message.method.as_deref() {
        return Err(EraError::HeaderMismatch {
            header: "Mcp-Method",
        });
    }
    let needs_name = matches!(
        message.method.as_deref(),
        Some("tools/call" | "prompts/get" | "resources/read")
    );
    if needs_name && text(name) != message.target.as_deref() {
        return Err(EraError::HeaderMismatch { header: "Mcp-Name" });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
