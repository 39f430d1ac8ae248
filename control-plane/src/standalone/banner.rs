//! What standalone mode prints once it serves: keys shown once, a client configuration to
//! paste, and a curl line.

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::json;

/// The facts to print.
pub struct Banner<'a> {
    /// `http://<listen>/demo/mcp`.
    pub gateway_url: String,
    /// `http://<admin addr>`.
    pub admin_url: String,
    /// The admin key, on the run that generated it.
    pub admin_key: Option<&'a str>,
    /// The `mcp.invoke` key, on the run that created it.
    pub invoke_key: Option<&'a str>,
}

/// Prints the banner to stdout. A closed stdout (output piped into a command that exited) must
/// not stop the gateway, so write errors are ignored.
pub fn print(banner: &Banner<'_>) {
    let mut out = String::new();
    let invoke = banner
        .invoke_key
        .unwrap_or("<the mcp.invoke key printed on the first run>");
    let client_config = json!({
        "mcpServers": {
            "mcpgw-demo": {
                "type": "http",
                "url": banner.gateway_url,
                "headers": {"Authorization": format!("Bearer {invoke}")}
            }
        }
    });
    let _ = writeln!(out);
    let _ = writeln!(out, "MCP gateway (standalone) is ready.");
    let _ = writeln!(out, "  Gateway:   {}", banner.gateway_url);
    let _ = writeln!(
        out,
        "  Admin API: {}/v1  (OpenAPI: {}/openapi.json)",
        banner.admin_url, banner.admin_url
    );
    if let Some(key) = banner.admin_key {
        let _ = writeln!(out, "  Admin key (shown once, store it now):      {key}");
    }
    if let Some(key) = banner.invoke_key {
        let _ = writeln!(out, "  mcp.invoke key (shown once, store it now): {key}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Client configuration (Claude Desktop, Cursor):");
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&client_config).unwrap_or_default()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "Try it:");
    let _ = writeln!(
        out,
        "  curl -s {} -H 'Authorization: Bearer {invoke}' -H 'Content-Type: application/json' \\\n    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' \\\n    -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"curl\",\"version\":\"1\"}}}}}}'",
        banner.gateway_url
    );
    let _ = writeln!(out);
    let _ = std::io::stdout().write_all(out.as_bytes());
}
