//! OAuth redirect URIs of the gateway's own clients, checked the same way wherever a client is
//! registered or its metadata document read: absolute, no fragment, and either `https`, `http`
//! on a loopback host (RFC 8252 §7.3, a native app's port changes from run to run), or a
//! private-use scheme with a dot (RFC 8252 §7.1, such as `com.example.app:/callback`). A
//! request's URI must equal a registered one exactly, except for a loopback URI's port.

use url::{Host, Url};

/// Longest redirect URI accepted.
pub const MAX_LEN: usize = 2000;

/// Why a redirect URI is refused.
pub fn check(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_LEN {
        return Err(format!("is longer than {MAX_LEN} bytes"));
    }
    let url = Url::parse(uri).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if url.fragment().is_some() {
        return Err("has a fragment (`#`), which redirect URIs may not".into());
    }
    match url.scheme() {
        "https" if url.has_host() => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(
            "uses http on a host that is not loopback (127.0.0.1, [::1] or localhost): use https"
                .into(),
        ),
        "javascript" | "data" | "file" | "vbscript" => {
            Err(format!("uses the `{}` scheme", url.scheme()))
        }
        scheme if scheme.contains('.') => Ok(()),
        scheme => Err(format!(
            "uses the scheme `{scheme}`: use https, loopback http, or a private-use scheme in reverse-domain form (com.example.app)"
        )),
    }
}

/// Whether the `requested` redirect URI is the `registered` one: the same text, or both
/// loopback `http` URIs that differ only in their port.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(registered), Ok(requested)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    registered.scheme() == "http"
        && requested.scheme() == "http"
        && is_loopback(&registered)
        && registered.host() == requested.host()
        && registered.path() == requested.path()
        && registered.query() == requested.query()
        && registered.username() == requested.username()
        && registered.password() == requested.password()
        && requested.fragment().is_none()
}

/// Whether `url`'s host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_loopback_http_and_private_schemes_are_accepted() {
        for good in [
            "https://client.example/cb",
            "http://127.0.0.1:33418/callback",
            "http://localhost/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for bad in [
            "http://client.example/cb",
            "https://client.example/cb#frag",
            "javascript:alert(1)",
            "myapp:/cb",
            "/relative",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_loopback_port_may_differ() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:5123/cb"));
        assert!(matches("http://127.0.0.1:1/cb", "http://127.0.0.1:2/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1/cb2"));
        assert!(!matches("http://127.0.0.1/cb", "http://localhost/cb"));
        assert!(!matches("https://a.example/cb", "https://a.example/cB"));
        assert!(!matches("https://a.example:1/cb", "https://a.example:2/cb"));
        assert!(matches("https://a.example/cb", "https://a.example/cb"));
    }
}
