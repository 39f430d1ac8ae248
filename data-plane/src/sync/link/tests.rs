//! Tests of `link`.

use super::*;

fn link(url: &str, args: &SyncLinkArgs) -> Result<SyncLink, LinkError> {
    SyncLink::new(url, args)
}

#[test]
fn clear_text_is_for_loopback_only() {
    let args = SyncLinkArgs::default();
    for url in [
        "http://127.0.0.1:50051",
        "http://127.8.0.1:50051",
        "http://[::1]:50051",
        "http://localhost:50051",
    ] {
        assert!(link(url, &args).is_ok(), "{url} was refused");
    }
    for url in [
        "http://control-plane.internal:50051",
        "http://10.0.0.5:50051",
    ] {
        assert!(
            matches!(link(url, &args), Err(LinkError::ClearText(_))),
            "{url} was accepted"
        );
    }
}

#[test]
fn insecure_sync_allows_clear_text_beyond_loopback() {
    let args = SyncLinkArgs {
        insecure_sync: true,
        ..SyncLinkArgs::default()
    };
    assert!(link("http://control-plane.internal:50051", &args).is_ok());
}

#[test]
fn tls_settings_are_checked_before_the_first_call() {
    let half = SyncLinkArgs {
        control_plane_client_cert: Some("/nonexistent/cert.pem".into()),
        ..SyncLinkArgs::default()
    };
    assert!(matches!(
        link("https://cp.example:50051", &half),
        Err(LinkError::HalfIdentity)
    ));
    let missing_ca = SyncLinkArgs {
        control_plane_ca: Some("/nonexistent/ca.pem".into()),
        ..SyncLinkArgs::default()
    };
    let error = link("https://cp.example:50051", &missing_ca).unwrap_err();
    assert!(
        error.to_string().contains("MCPGW_CONTROL_PLANE_CA"),
        "{error}"
    );
    assert!(matches!(
        link("http://127.0.0.1:50051", &missing_ca),
        Err(LinkError::TlsWithoutHttps)
    ));
    assert!(matches!(
        link("ftp://cp.example", &SyncLinkArgs::default()),
        Err(LinkError::BadUrl(_))
    ));
}
