use http::{HeaderMap, HeaderValue};

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    map
}

#[test]
fn loopback_accepts_loopback_names_with_any_port_and_nothing_else() {
    let policy = HostPolicy::loopback();
    for ok in ["localhost", "127.0.0.1:8080", "LOCALHOST:1", "[::1]:80"] {
        assert!(
            policy.check(&headers(&[("host", ok)]), None, None).is_ok(),
            "{ok}"
        );
    }
    for bad in ["evil.example", "127.0.0.2", "", "localhost.evil.example"] {
        assert!(
            policy
                .check(&headers(&[("host", bad)]), None, None)
                .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn origins_are_refused_unless_listed() {
    let policy = HostPolicy::loopback();
    let err = policy.check(
        &headers(&[("host", "localhost"), ("origin", "http://evil.example")]),
        None,
        None,
    );
    assert!(matches!(err, Err(HostError::OriginNotAllowed(_))));
    let local = headers(&[("host", "localhost:9"), ("origin", "http://localhost:6274")]);
    assert!(
        policy.check(&local, None, None).is_ok(),
        "a loopback gateway accepts loopback pages"
    );
    let url = Url::parse("https://mcp.example.com").unwrap();
    let public = HostPolicy::new(&[], &[], &[], Some(&url), false).unwrap();
    let local = headers(&[
        ("host", "mcp.example.com"),
        ("origin", "http://localhost:6274"),
    ]);
    assert!(
        public.check(&local, None, None).is_err(),
        "a public gateway does not"
    );
    let listed = HostPolicy::new(&[], &["https://app.example/".into()], &[], None, true).unwrap();
    assert!(
        listed
            .check(
                &headers(&[("host", "localhost"), ("origin", "https://APP.example")]),
                None,
                None
            )
            .is_ok()
    );
}

#[test]
fn a_public_url_names_the_host_and_non_loopback_needs_one() {
    let url = Url::parse("https://mcp.example.com").unwrap();
    let policy = HostPolicy::new(&[], &[], &[], Some(&url), false).unwrap();
    assert!(
        policy
            .check(&headers(&[("host", "mcp.example.com")]), None, None)
            .is_ok()
    );
    assert!(
        policy
            .check(&headers(&[("host", "localhost")]), None, None)
            .is_err()
    );
    assert_eq!(
        HostPolicy::new(&[], &[], &[], None, false).unwrap_err(),
        HostPolicyError::NoPublicHost
    );
}

#[test]
fn forwarded_hosts_count_only_from_trusted_proxies() {
    let url = Url::parse("https://mcp.example.com").unwrap();
    let policy = HostPolicy::new(&[], &[], &["10.0.0.0/8".into()], Some(&url), false).unwrap();
    let h = headers(&[
        ("host", "pod-7:8080"),
        ("x-forwarded-host", "mcp.example.com"),
    ]);
    assert!(
        policy
            .check(&h, None, Some("10.1.2.3".parse().unwrap()))
            .is_ok()
    );
    assert!(
        policy
            .check(&h, None, Some("192.168.1.1".parse().unwrap()))
            .is_err()
    );
    assert!(policy.check(&h, None, None).is_err());
    assert!(HostPolicy::new(&[], &[], &["not-an-ip".into()], Some(&url), false).is_err());
}

#[test]
fn the_nearest_proxys_forwarded_host_is_believed_not_the_clients() {
    let url = Url::parse("https://mcp.example.com").unwrap();
    let policy = HostPolicy::new(&[], &[], &["10.0.0.0/8".into()], Some(&url), false).unwrap();
    let proxy = Some("10.1.2.3".parse().unwrap());
    // A client sends its own X-Forwarded-Host; the trusted proxy appends the real one.
    let spoofed = headers(&[
        ("host", "pod-7:8080"),
        ("x-forwarded-host", "mcp.example.com, evil.example"),
    ]);
    assert_eq!(
        policy.check(&spoofed, None, proxy),
        Err(HostError::HostNotAllowed("evil.example".into()))
    );
    let honest = headers(&[
        ("host", "pod-7:8080"),
        ("x-forwarded-host", "evil.example, mcp.example.com"),
    ]);
    assert!(policy.check(&honest, None, proxy).is_ok());
    let mapped = Some("::ffff:10.1.2.3".parse().unwrap());
    assert!(
        policy.check(&honest, None, mapped).is_ok(),
        "an IPv4 proxy seen through an IPv6 socket"
    );
}
