//! Tests of `config`: the flags as the binary reads them (each also has its `MCPGW_*`
//! variable).

use clap::Parser;

use super::*;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

const REQUIRED: [&str; 5] = [
    "mcpgw-data-plane",
    "--nats-url",
    "nats://127.0.0.1:4222",
    "--data-plane-token",
    "mcpgwdp_abcdefgh_TokenMarkerTokenMarkerTokenMarkerTok",
];

fn read(extra: &[&str]) -> Result<ServeArgs, clap::Error> {
    Cli::try_parse_from(REQUIRED.iter().chain(extra)).map(|cli| cli.serve)
}

#[test]
fn everything_but_the_sync_source_has_a_default() {
    let serve = read(&[]).unwrap();
    let s = serve.gateway;
    assert_eq!(s.listen_addr, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(s.max_body_bytes, 4 * 1024 * 1024);
    assert_eq!(s.session_max_age, Duration::from_secs(24 * 3600));
    assert!(
        s.session_keys.is_none(),
        "checked when the gateway is built"
    );
    let defaults = Settings::new(
        s.listen_addr,
        Keyring::parse(&format!(
            "k1:{}",
            mcpgw_shared::secret::generate_base64_key()
        ))
        .unwrap(),
    );
    assert_eq!(
        (s.upstream_timeout, s.sse_keep_alive, s.drain_timeout),
        (
            defaults.upstream_timeout,
            defaults.sse_keep_alive,
            defaults.drain_timeout
        ),
        "one set of defaults"
    );
    assert_eq!(serve.control_plane_url, "http://127.0.0.1:50051");
}

#[test]
fn values_are_read_and_bad_ones_named() {
    let keys = format!("k1:{}", mcpgw_shared::secret::generate_base64_key());
    let s = read(&[
        "--session-keys",
        &keys,
        "--listen-addr",
        "0.0.0.0:9000",
        "--public-base-url",
        "https://mcp.example.com",
        "--allowed-origins",
        "https://a.example, https://b.example",
        "--upstream-timeout",
        "30s",
        "--sse-keep-alive",
        "5s",
        "--max-body-bytes",
        "1024",
        "--forward-headers",
        "x-tenant",
    ])
    .unwrap()
    .gateway;
    assert_eq!(
        *s.allowed_origins,
        ["https://a.example", "https://b.example"]
    );
    assert!(s.allowed_hosts.is_empty());
    assert_eq!(s.upstream_timeout, Duration::from_secs(30));
    assert_eq!(s.sse_keep_alive, Duration::from_secs(5));
    assert_eq!((s.max_body_bytes, s.forward_headers.len()), (1024, 1));
    assert_eq!(s.session_keys.unwrap().sealing_key_id(), "k1");
    let bad = read(&["--drain-timeout", "soon"]).unwrap_err().to_string();
    assert!(bad.contains("--drain-timeout"), "{bad}");
    let bad = read(&["--session-keys", "nonsense"])
        .unwrap_err()
        .to_string();
    assert!(bad.contains("--session-keys"), "{bad}");
}

#[test]
fn the_token_and_session_keys_never_show_in_debug_output() {
    let keys = format!("k1:{}", mcpgw_shared::secret::generate_base64_key());
    let serve = read(&["--session-keys", &keys]).unwrap();
    let debug = format!("{serve:?}");
    assert!(!debug.contains("TokenMarker"), "{debug}");
    assert!(!debug.contains(&keys[3..]), "{debug}");
}

#[test]
fn comma_lists_are_trimmed_and_empty_entries_dropped() {
    let list: CommaList = " a, ,b ,".parse().unwrap();
    assert_eq!(*list, ["a", "b"]);
    assert!("".parse::<CommaList>().unwrap().is_empty());
}

#[test]
fn the_token_and_the_keyring_may_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "mcpgwdp_abcdefgh_FromAFileFromAFileFromAFileFr\n").unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(
        &keys,
        format!("k7:{}\n", mcpgw_shared::secret::generate_base64_key()),
    )
    .unwrap();
    let mut serve = Cli::try_parse_from([
        "mcpgw-data-plane",
        "--nats-url",
        "nats://127.0.0.1:4222",
        "--data-plane-token-file",
        token.to_str().unwrap(),
        "--session-keys-file",
        keys.to_str().unwrap(),
    ])
    .unwrap()
    .serve;
    assert_eq!(
        serve.token().unwrap().expose(),
        "mcpgwdp_abcdefgh_FromAFileFromAFileFromAFileFr"
    );
    serve.load_keyrings().unwrap();
    assert_eq!(
        serve
            .gateway
            .session_keys
            .as_ref()
            .unwrap()
            .sealing_key_id(),
        "k7"
    );
    let both = read(&["--data-plane-token-file", token.to_str().unwrap()]).unwrap();
    assert!(
        both.token().is_err(),
        "the token and its file are exclusive"
    );
    let none = Cli::try_parse_from(["mcpgw-data-plane", "--nats-url", "nats://x"]).unwrap();
    assert!(
        none.serve
            .token()
            .unwrap_err()
            .to_string()
            .contains("MCPGW_DATA_PLANE_TOKEN")
    );
}

#[test]
fn the_public_base_url_must_be_an_absolute_url_without_query() {
    let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let mut settings = Settings::new(addr, Keyring::single(&[7; 32]));
    assert_eq!(
        settings.public_base(addr).unwrap().as_str(),
        "http://127.0.0.1:8080/"
    );
    settings.public_base_url = Some("https://mcp.example.com".parse().unwrap());
    assert_eq!(
        settings.public_base(addr).unwrap().as_str(),
        "https://mcp.example.com/"
    );
    for wrong in [
        "https://mcp.example.com/?tenant=1",
        "ftp://mcp.example.com",
        "mailto:a@b",
    ] {
        settings.public_base_url = Some(wrong.parse().unwrap());
        let error = settings.public_base(addr).unwrap_err().to_string();
        assert!(error.contains("MCPGW_PUBLIC_BASE_URL"), "{wrong}: {error}");
    }
}
