//! Which addresses are public: globally routable unicast, as the IANA special-purpose address
//! registries define it. Addresses that embed an IPv4 address (IPv4-mapped, NAT64, 6to4) are
//! judged by the address they embed, so `::ffff:127.0.0.1` is loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{Ipv4Net, Ipv6Net};

/// IPv4 ranges that are not public.
static V4_SPECIAL: LazyLock<Vec<Ipv4Net>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",       // "this network"
        "10.0.0.0/8",      // private
        "100.64.0.0/10",   // CGNAT (and Alibaba's metadata, 100.100.100.200)
        "127.0.0.0/8",     // loopback
        "169.254.0.0/16",  // link-local (and most clouds' metadata, 169.254.169.254)
        "172.16.0.0/12",   // private
        "192.0.0.0/24",    // IETF protocol assignments (and Oracle's metadata, 192.0.0.192)
        "192.0.2.0/24",    // documentation
        "192.88.99.0/24",  // 6to4 relay anycast
        "192.168.0.0/16",  // private
        "198.18.0.0/15",   // benchmarking
        "198.51.100.0/24", // documentation
        "203.0.113.0/24",  // documentation
        "224.0.0.0/4",     // multicast
        "240.0.0.0/4",     // reserved, and broadcast
    ]
    .iter()
    .map(|n| n.parse().expect("a valid IPv4 range"))
    .collect()
});

/// IPv6 ranges that are not public (those embedding IPv4 are handled separately).
static V6_SPECIAL: LazyLock<Vec<Ipv6Net>> = LazyLock::new(|| {
    [
        "::/128",        // unspecified
        "::1/128",       // loopback
        "100::/64",      // discard
        "2001::/23",     // IETF protocol assignments
        "2001:db8::/32", // documentation
        "fc00::/7",      // unique local (and AWS's IPv6 metadata, fd00:ec2::254)
        "fe80::/10",     // link-local
        "ff00::/8",      // multicast
    ]
    .iter()
    .map(|n| n.parse().expect("a valid IPv6 range"))
    .collect()
});

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => !V6_SPECIAL.iter().any(|n| n.contains(&v6)),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !V4_SPECIAL.iter().any(|n| n.contains(&ip))
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let octets = ip.octets();
    let tail = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, _, _, ..] => Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5])),
        _ => None,
    }
}
