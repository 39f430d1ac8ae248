//! What standalone mode prints once it serves: keys shown once, a client configuration to
//! paste, and a curl line.

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

/// Prints the banner to stdout.
pub fn print(banner: &Banner<'_>) {
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
    println!();
    println!("MCP gateway (standalone) is ready.");
    println!("  Gateway:   {}", banner.gateway_url);
    println!(
        "  Admin API: {}/v1  (OpenAPI: {}/openapi.json)",
        banner.admin_url, banner.admin_url
    );
    if let Some(key) = banner.admin_key {
        println!("  Admin key (shown once, store it now):      {key}");
    }
    if let Some(key) = banner.invoke_key {
        println!("  mcp.invoke key (shown once, store it now): {key}");
    }
    println!();
    println!("Client configuration (Claude Desktop, Cursor):");
    println!(
        "{}",
        serde_json::to_string_pretty(&client_config).unwrap_or_default()
    );
    println!();
    println!("Try it:");
    println!(
        "  curl -s {} -H 'Authorization: Bearer {invoke}' -H 'Content-Type: application/json' \\\n    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' \\\n    -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"curl\",\"version\":\"1\"}}}}}}'",
        banner.gateway_url
    );
    println!();
}
