//! The reference server the MCP conformance suite's server scenarios expect, written with rmcp:
//! the tools, resources and prompts they call (`test_simple_text`, `test://static-text`,
//! `test_simple_prompt`, …), logging, progress, completion, sampling and elicitation. Its
//! answers are built from JSON (the scenarios specify them as JSON) into rmcp's typed model.

#![allow(deprecated)] // sampling, logging and resources/subscribe are deprecated in 2026-07-28

use std::net::SocketAddr;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    CreateMessageRequestParams, ElicitRequestParams, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, ServerCapabilities, ServerConfig,
    SetLevelRequestParams, SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
/// A tiny WAV header.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=";

fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value).map_err(|e| ErrorData::internal_error(e.to_string(), None))
}

fn tool(name: &str, description: &str) -> Value {
    json!({"name": name, "description": description, "inputSchema": {"type": "object", "properties": {}}})
}

fn text_resource(uri: &str, text: &str) -> Value {
    json!({"uri": uri, "mimeType": "text/plain", "text": text})
}

/// The conformance reference server.
#[derive(Clone, Default)]
pub struct ConformanceServer;

impl ConformanceServer {
    async fn call(
        &self,
        name: &str,
        args: &Value,
        cx: &RequestContext<RoleServer>,
    ) -> Result<Value, ErrorData> {
        let text = |t: &str| json!({"content": [{"type": "text", "text": t}]});
        Ok(match name {
            "test_simple_text" => text("This is a simple text response for testing."),
            "test_image_content" => {
                json!({"content": [{"type": "image", "data": PNG, "mimeType": "image/png"}]})
            }
            "test_audio_content" => {
                json!({"content": [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}]})
            }
            "test_embedded_resource" => json!({"content": [{"type": "resource",
                "resource": text_resource("test://embedded-resource", "This is an embedded resource content.")}]}),
            "test_multiple_content_types" => json!({"content": [
                {"type": "text", "text": "Multiple content types test:"},
                {"type": "image", "data": PNG, "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "test://mixed-content-resource", "mimeType": "application/json", "text": "{\"test\":\"data\",\"value\":123}"}}]}),
            "test_tool_with_logging" => {
                for (i, message) in [
                    "Tool execution started",
                    "Tool processing data",
                    "Tool execution completed",
                ]
                .iter()
                .enumerate()
                {
                    let note =
                        typed(json!({"level": "info", "logger": "conformance", "data": message}))?;
                    let _ = cx.peer.notify_logging_message(note).await;
                    if i < 2 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                text("Tool with logging executed successfully")
            }
            "test_error_handling" => {
                json!({"content": [{"type": "text", "text": "This tool intentionally returns an error for testing"}], "isError": true})
            }
            "test_tool_with_progress" => {
                if let Some(token) = cx.meta.get_progress_token() {
                    for step in [0.0, 50.0, 100.0] {
                        let note =
                            ProgressNotificationParam::new(token.clone(), step).with_total(100.0);
                        let _ = cx.peer.notify_progress(note).await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                text("Progress test completed")
            }
            "test_sampling" => {
                let prompt = args["prompt"].as_str().unwrap_or("Test prompt");
                let params: CreateMessageRequestParams = typed(json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
                    "maxTokens": 100}))?;
                let answer = cx
                    .peer
                    .create_message(params)
                    .await
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                text(&format!(
                    "LLM response: {}",
                    serde_json::to_string(&answer).unwrap_or_default()
                ))
            }
            "test_elicitation"
            | "test_elicitation_sep1034_defaults"
            | "test_elicitation_sep1330_enums" => {
                let schema = match name {
                    "test_elicitation" => json!({"type": "object", "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}},
                        "required": ["username", "email"]}),
                    "test_elicitation_sep1034_defaults" => json!({"type": "object", "properties": {
                        "name": {"type": "string", "default": "John Doe"},
                        "age": {"type": "integer", "default": 30},
                        "score": {"type": "number", "default": 95.5},
                        "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
                        "verified": {"type": "boolean", "default": true}}}),
                    _ => json!({"type": "object", "properties": {
                        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "oneOf": [{"const": "value1", "title": "First Option"}, {"const": "value2", "title": "Second Option"}]},
                        "legacyEnum": {"type": "string", "enum": ["opt1", "opt2"], "enumNames": ["Option One", "Option Two"]},
                        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "items": {"anyOf": [{"const": "value1", "title": "First"}, {"const": "value2", "title": "Second"}]}}}}),
                };
                let message = args["message"]
                    .as_str()
                    .unwrap_or("Please provide your information");
                let params: ElicitRequestParams =
                    typed(json!({"mode": "form", "message": message, "requestedSchema": schema}))?;
                let answer = cx
                    .peer
                    .create_elicitation(params)
                    .await
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                text(&format!(
                    "User response: {}",
                    serde_json::to_string(&answer).unwrap_or_default()
                ))
            }
            "json_schema_2020_12_tool" => text("ok"),
            other => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown tool: {other}"),
                    None,
                ));
            }
        })
    }
}

impl ServerHandler for ConformanceServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_prompts()
            .enable_logging()
            .enable_completions()
            .build();
        ServerConfig::new(capabilities)
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut tools = vec![
            tool("test_simple_text", "Returns simple text content"),
            tool("test_image_content", "Returns image content"),
            tool("test_audio_content", "Returns audio content"),
            tool("test_embedded_resource", "Returns an embedded resource"),
            tool(
                "test_multiple_content_types",
                "Returns text, image and resource content",
            ),
            tool("test_tool_with_logging", "Sends log messages while it runs"),
            tool("test_error_handling", "Always returns a tool error"),
            tool("test_tool_with_progress", "Reports progress"),
            tool("test_sampling", "Asks the client for an LLM completion"),
            tool("test_elicitation", "Asks the user for input"),
            tool(
                "test_elicitation_sep1034_defaults",
                "Elicitation with default values",
            ),
            tool(
                "test_elicitation_sep1330_enums",
                "Elicitation with enum schemas",
            ),
        ];
        tools.push(json!({"name": "json_schema_2020_12_tool", "description": "JSON Schema 2020-12 input",
            "inputSchema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}}}},
                "properties": {"address": {"$ref": "#/$defs/address"}}, "additionalProperties": false}}));
        typed(json!({"tools": tools}))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request
            .arguments
            .clone()
            .map(Value::Object)
            .unwrap_or(Value::Null);
        let result: CallToolResult = typed(self.call(&request.name, &args, &cx).await?)?;
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        typed(json!({"resources": [
            {"uri": "test://static-text", "name": "Static Text", "mimeType": "text/plain"},
            {"uri": "test://static-binary", "name": "Static Binary", "mimeType": "image/png"},
            {"uri": "test://watched-resource", "name": "Watched Resource", "mimeType": "text/plain"}]}))
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        typed(
            json!({"resourceTemplates": [{"uriTemplate": "test://template/{id}/data", "name": "Template", "mimeType": "application/json"}]}),
        )
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.as_str();
        let contents = match uri {
            "test://static-text" => {
                text_resource(uri, "This is the content of the static text resource.")
            }
            "test://static-binary" => json!({"uri": uri, "mimeType": "image/png", "blob": PNG}),
            "test://watched-resource" => text_resource(uri, "Watched resource content"),
            _ => match uri
                .strip_prefix("test://template/")
                .and_then(|r| r.strip_suffix("/data"))
            {
                Some(id) => {
                    json!({"uri": uri, "mimeType": "application/json", "text": json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")}).to_string()})
                }
                None => {
                    return Err(ErrorData::resource_not_found(
                        format!("no resource {uri}"),
                        None,
                    ));
                }
            },
        };
        let result: ReadResourceResult = typed(json!({"contents": [contents]}))?;
        Ok(result.into())
    }

    async fn subscribe(
        &self,
        _: SubscribeRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn unsubscribe(
        &self,
        _: UnsubscribeRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn list_prompts(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        typed(json!({"prompts": [
            {"name": "test_simple_prompt", "description": "A simple prompt without arguments"},
            {"name": "test_prompt_with_arguments", "description": "A prompt with arguments",
                "arguments": [{"name": "arg1", "description": "First", "required": true}, {"name": "arg2", "description": "Second", "required": true}]},
            {"name": "test_prompt_with_embedded_resource", "description": "A prompt with an embedded resource",
                "arguments": [{"name": "resourceUri", "description": "The resource", "required": true}]},
            {"name": "test_prompt_with_image", "description": "A prompt with an image"}]}))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let arg = |name: &str| {
            request
                .arguments
                .as_ref()
                .and_then(|a| a.get(name))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let user = |content: Value| json!({"role": "user", "content": content});
        let messages = match request.name.as_str() {
            "test_simple_prompt" => vec![user(
                json!({"type": "text", "text": "This is a simple prompt for testing."}),
            )],
            "test_prompt_with_arguments" => vec![user(json!({"type": "text",
                "text": format!("Prompt with arguments: arg1='{}', arg2='{}'", arg("arg1"), arg("arg2"))}))],
            "test_prompt_with_embedded_resource" => vec![
                user(
                    json!({"type": "resource", "resource": text_resource(&arg("resourceUri"), "Embedded resource content for testing.")}),
                ),
                user(
                    json!({"type": "text", "text": "Please process the embedded resource above."}),
                ),
            ],
            "test_prompt_with_image" => vec![
                user(json!({"type": "image", "data": PNG, "mimeType": "image/png"})),
                user(json!({"type": "text", "text": "Please analyze the image above."})),
            ],
            other => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown prompt: {other}"),
                    None,
                ));
            }
        };
        let result: GetPromptResult = typed(json!({"messages": messages}))?;
        Ok(result.into())
    }

    async fn complete(
        &self,
        _: CompleteRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        typed(
            json!({"completion": {"values": ["paris", "park", "party"], "total": 3, "hasMore": false}}),
        )
    }

    async fn set_level(
        &self,
        _: SetLevelRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }
}

/// A running conformance upstream.
pub struct ConformanceUpstream {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl ConformanceUpstream {
    /// Starts it on an ephemeral loopback port.
    pub async fn spawn() -> Self {
        let stop = CancellationToken::new();
        let service: StreamableHttpService<ConformanceServer, LocalSessionManager> =
            StreamableHttpService::new(
                || Ok(ConformanceServer),
                Default::default(),
                StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token()),
            );
        let router = axum::Router::new().nest_service("/mcp", service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let token = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move { token.cancelled_owned().await })
                .await;
        });
        Self { addr, stop }
    }

    /// Its MCP URL, with `localhost` (the conformance suite's DNS-rebinding check needs it).
    pub fn url(&self) -> String {
        format!("http://localhost:{}/mcp", self.addr.port())
    }
}

impl Drop for ConformanceUpstream {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
