//! Protocol versions and the 2026-07-28 routing headers. The gateway negotiates nothing: it
//! tells the two eras apart to apply each one's transport rules.

use http::HeaderMap;

use super::errors::GatewayError;
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

const KNOWN: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
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

/// Reads `MCP-Protocol-Version`: absent means a session-era request (2025-03-26 when no
/// session says otherwise); unknown versions are refused.
pub fn era(headers: &HeaderMap) -> Result<(Era, Option<&str>), GatewayError> {
    let Some(value) = headers.get(PROTOCOL_VERSION) else {
        return Ok((Era::Sessions, None));
    };
    let version = value.to_str().unwrap_or("").trim();
    if !KNOWN.contains(&version) {
        return Err(GatewayError::UnsupportedVersion(
            version.chars().take(40).collect(),
        ));
    }
    let era = if version == MODERN {
        Era::Stateless
    } else {
        Era::Sessions
    };
    Ok((era, Some(version)))
}

/// Checks that `Mcp-Method` and `Mcp-Name` match the body of a 2026-07-28 message.
pub fn check_routing_headers(headers: &HeaderMap, message: &Message) -> Result<(), GatewayError> {
    if message.kind == Kind::Response {
        return Ok(());
    }
    let header = |name| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    if header(MCP_METHOD) != message.method.as_deref() {
        return Err(GatewayError::HeaderMismatch {
            header: "Mcp-Method",
        });
    }
    let needs_name = matches!(
        message.method.as_deref(),
        Some("tools/call" | "prompts/get" | "resources/read")
    );
    if needs_name && header(MCP_NAME) != message.target.as_deref() {
        return Err(GatewayError::HeaderMismatch { header: "Mcp-Name" });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
