//! Tests of `egress`.

use std::net::SocketAddr;

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn public_addresses_pass_and_internal_ones_are_refused() {
    let policy = EgressPolicy::public_only();
    for public in ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "100.128.0.1"] {
        assert!(policy.permits_ip(ip(public)), "{public}");
    }
    for internal in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.100.100.200",
        "0.0.0.0",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "224.0.0.1",
        "255.255.255.255",
    ] {
        assert!(!policy.permits_ip(ip(internal)), "{internal}");
    }
}

#[test]
fn allowed_ranges_and_names_widen_the_policy() {
    let policy = EgressPolicy::parse(["10.0.0.0/8", "192.168.1.5", "mcp.internal"]).unwrap();
    assert!(policy.permits_ip(ip("10.9.9.9")));
    assert!(policy.permits_ip(ip("192.168.1.5")));
    assert!(!policy.permits_ip(ip("192.168.1.6")));
    assert!(!policy.permits_ip(ip("127.0.0.1")));
    let internal: SocketAddr = "172.20.0.2:443".parse().unwrap();
    assert_eq!(
        policy.filter("MCP.internal.", vec![internal]).unwrap(),
        vec![internal],
        "a host allowed by name may resolve anywhere"
    );
    assert!(policy.filter("other.example", vec![internal]).is_err());
    assert!(EgressPolicy::parse(["not a host!"]).is_err());
    assert!(EgressPolicy::parse(["10.0.0.0/33"]).is_err());
}

#[test]
fn a_name_that_resolves_to_public_and_internal_addresses_keeps_only_the_public_ones() {
    let policy = EgressPolicy::public_only();
    let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
    let metadata: SocketAddr = "169.254.169.254:80".parse().unwrap();
    assert_eq!(
        policy
            .filter("mixed.example", vec![metadata, public])
            .unwrap(),
        vec![public]
    );
    let denied = policy
        .filter("rebound.example", vec![metadata])
        .unwrap_err();
    assert_eq!(denied.reason, DenialReason::NonPublic(metadata.ip()));
    assert!(denied.to_string().contains("MCPGW_EGRESS_ALLOW"));
}

#[test]
fn ip_literals_and_metadata_names_are_checked_before_resolving() {
    let policy = EgressPolicy::public_only();
    let url = |u: &str| Url::parse(u).unwrap();
    assert!(
        policy
            .check_url(&url("http://169.254.169.254/latest/meta-data"))
            .is_err()
    );
    assert!(policy.check_url(&url("http://[::1]:8080/mcp")).is_err());
    assert!(
        policy
            .check_url(&url("http://metadata.google.internal/computeMetadata/v1"))
            .is_err()
    );
    assert!(
        policy
            .check_url(&url("https://mcp.example.com/mcp"))
            .is_ok()
    );
    assert!(
        EgressPolicy::with_loopback()
            .check_url(&url("http://127.0.0.1:9/mcp"))
            .is_ok()
    );
    assert!(EgressPolicy::with_loopback().allows_loopback());
    assert!(!policy.allows_loopback());
}

#[test]
fn logged_urls_lose_their_query() {
    let url = Url::parse("https://u:pw@mcp.example.com/mcp?api_key=s3cret#frag").unwrap();
    let shown = redacted(&url);
    assert!(
        !shown.contains("s3cret") && !shown.contains("pw"),
        "{shown}"
    );
    assert!(shown.contains("mcp.example.com/mcp"));
}
