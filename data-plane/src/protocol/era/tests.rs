//! Tests of `era`.

use http::HeaderValue;

use super::*;
use crate::protocol::message::{Body, inspect};

fn msg(body: &str) -> Message {
    match inspect(body.as_bytes(), Era::Sessions).unwrap() {
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
    assert!(matches!(
        era(&h),
        Err(EraError::UnsupportedVersion { supported, .. }) if supported == SESSION_VERSIONS
    ));
    h.insert(MCP_METHOD, HeaderValue::from_static("tools/list"));
    assert!(matches!(
        era(&h),
        Err(EraError::UnsupportedVersion { supported, .. }) if supported == STATELESS_VERSIONS
    ));
}

#[test]
fn routing_headers_must_match_the_body() {
    let call = msg(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#);
    let mut h = HeaderMap::new();
    assert!(check_routing_headers(&h, &call).is_err(), "missing headers");
    h.insert(MCP_METHOD, HeaderValue::from_static("tools/call"));
    h.insert(MCP_NAME, HeaderValue::from_static("add"));
    assert!(matches!(
        check_routing_headers(&h, &call),
        Err(EraError::HeaderMismatch { header: "Mcp-Name" })
    ));
    h.insert(MCP_NAME, HeaderValue::from_static("echo"));
    assert!(check_routing_headers(&h, &call).is_ok());
    h.insert(MCP_METHOD, HeaderValue::from_static("tools/list"));
    assert!(check_routing_headers(&h, &call).is_err());
    let list = msg(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
    assert!(check_routing_headers(&h, &list).is_ok());
}

#[test]
fn routing_and_version_headers_given_twice_are_refused() {
    let call = msg(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#);
    let mut h = HeaderMap::new();
    h.append(MCP_METHOD, HeaderValue::from_static("tools/call"));
    h.append(MCP_NAME, HeaderValue::from_static("echo"));
    h.append(MCP_NAME, HeaderValue::from_static("other"));
    assert_eq!(
        check_routing_headers(&h, &call),
        Err(EraError::DuplicateHeader { header: "Mcp-Name" })
    );
    let mut h = HeaderMap::new();
    h.append(PROTOCOL_VERSION, HeaderValue::from_static(MODERN));
    h.append(PROTOCOL_VERSION, HeaderValue::from_static("2025-11-25"));
    assert!(matches!(era(&h), Err(EraError::DuplicateHeader { .. })));
}
