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
mod tests {
    use http::HeaderValue;

    use super::*;
    use crate::relay::message::{Body, inspect};

    fn msg(body: &str) -> Message {
        match inspect(body.as_bytes()).unwrap() {
            Body::Single(m) => m,
            Body::Batch(_) => unreachable!("tests send single messages"),
        }
    }

    #[test]
    fn versions_pick_the_era_and_unknown_ones_are_refused() {
        let mut h = HeaderMap::new();
        assert_eq!(era(&h).unwrap(), (Era::Sessions, None));
        h.insert(PROTOCOL_VERSION, HeaderValue::from_static("2025-06-18"));
        assert_eq!(era(&h).unwrap().0, Era::Sessions);
        h.insert(PROTOCOL_VERSION, HeaderValue::from_static(MODERN));
        assert_eq!(era(&h).unwrap().0, Era::Stateless);
        h.insert(PROTOCOL_VERSION, HeaderValue::from_static("1999-01-01"));
        assert!(matches!(era(&h), Err(GatewayError::UnsupportedVersion(_))));
    }

    #[test]
    fn routing_headers_must_match_the_body() {
        let call =
            msg(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#);
        let mut h = HeaderMap::new();
        assert!(check_routing_headers(&h, &call).is_err(), "missing headers");
        h.insert(MCP_METHOD, HeaderValue::from_static("tools/call"));
        h.insert(MCP_NAME, HeaderValue::from_static("add"));
        assert!(matches!(
            check_routing_headers(&h, &call),
            Err(GatewayError::HeaderMismatch { header: "Mcp-Name" })
        ));
        h.insert(MCP_NAME, HeaderValue::from_static("echo"));
        assert!(check_routing_headers(&h, &call).is_ok());
        h.insert(MCP_METHOD, HeaderValue::from_static("tools/list"));
        assert!(check_routing_headers(&h, &call).is_err());
        let list = msg(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
        assert!(check_routing_headers(&h, &list).is_ok());
    }
}
