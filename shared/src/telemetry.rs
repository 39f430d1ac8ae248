//! Logging set-up shared by both binaries: `tracing` with `RUST_LOG` filtering, human-readable
//! by default and JSON with `MCPGW_LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;

/// The variable that chooses the log format (`json`, else human-readable); read by both
/// binaries outside their flags, since logging starts before they are parsed.
pub const LOG_FORMAT_VAR: &str = "MCPGW_LOG_FORMAT";

/// Installs the global subscriber. Call once at start-up.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var(LOG_FORMAT_VAR).is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A subscriber may already be installed (tests); that is fine.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
