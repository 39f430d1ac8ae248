//! Tests of `config`.

use clap::Parser;

use super::Cli;

#[test]
fn secrets_given_on_the_command_line_never_show_in_debug_output() {
    let cli = Cli::try_parse_from([
        "mcpgw-control-plane",
        "serve",
        "--nats-url",
        "nats://127.0.0.1:4222",
        "--secret-key",
        "c2VjcmV0LWtleS1tYXJrZXI=",
        "--bootstrap-admin-key",
        "mcpgw_abcdefgh_AdminKeyMarkerAdminKeyMarkerAdminKey",
    ])
    .expect("valid arguments");
    let debug = format!("{cli:?}");
    assert!(!debug.contains("c2VjcmV0LWtleS1tYXJrZXI="), "{debug}");
    assert!(!debug.contains("AdminKeyMarker"), "{debug}");
}

#[test]
fn the_authorization_server_lifetimes_default_to_ten_minutes_and_thirty_days() {
    let cli = Cli::try_parse_from(["mcpgw-control-plane", "standalone"]).expect("valid");
    let super::Command::Standalone(args) = cli.command else {
        panic!("standalone");
    };
    let settings = args.control_plane.authorization().expect("valid lifetimes");
    assert_eq!(settings.access_token_ttl.as_secs(), 600);
    assert_eq!(settings.signing_key_rotation.as_secs(), 30 * 24 * 3600);
}

#[test]
fn an_access_token_may_not_outlive_its_signing_key() {
    let cli = Cli::try_parse_from([
        "mcpgw-control-plane",
        "standalone",
        "--oauth-access-token-ttl",
        "2d",
        "--oauth-signing-key-rotation",
        "1d",
    ])
    .expect("valid arguments");
    let super::Command::Standalone(args) = cli.command else {
        panic!("standalone");
    };
    let refused = args.control_plane.authorization().unwrap_err();
    assert!(
        refused.to_string().contains("MCPGW_OAUTH_ACCESS_TOKEN_TTL"),
        "{refused}"
    );
}
