//! The `mcpgw-control-plane` binary's maintenance commands, run as an operator would.

use std::process::Command;

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mcpgw-control-plane"))
}

#[test]
fn help_lists_the_subcommands() {
    let output = binary().arg("--help").output().expect("run --help");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "standalone", "migrate", "rebuild-projections"] {
        assert!(text.contains(command), "--help lacks {command}: {text}");
    }
}

#[test]
fn migrate_and_rebuild_projections_work_on_a_new_sqlite_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}", dir.path().join("cp.db").display());
    let migrate = binary()
        .arg("migrate")
        .env("MCPGW_DATABASE_URL", &url)
        .output()
        .expect("run migrate");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let rebuild = binary()
        .arg("rebuild-projections")
        .env("MCPGW_DATABASE_URL", &url)
        .output()
        .expect("run rebuild-projections");
    assert!(
        rebuild.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuild.stderr)
    );
    assert!(String::from_utf8_lossy(&rebuild.stdout).contains("from 0 events"));
}

#[test]
fn serve_without_a_secret_key_explains_what_to_set() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let output = binary()
        .arg("serve")
        .env(
            "MCPGW_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("cp.db").display()),
        )
        .env("MCPGW_NATS_URL", "nats://127.0.0.1:1")
        .env_remove("MCPGW_SECRET_KEY")
        .env_remove("MCPGW_SECRET_KEY_FILE")
        .output()
        .expect("run serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MCPGW_SECRET_KEY"), "{stderr}");
}

#[test]
fn migrate_without_a_database_url_says_so() {
    let output = binary()
        .arg("migrate")
        .env_remove("MCPGW_DATABASE_URL")
        .output()
        .expect("run migrate");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("MCPGW_DATABASE_URL"));
}
