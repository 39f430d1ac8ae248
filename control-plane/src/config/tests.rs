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
