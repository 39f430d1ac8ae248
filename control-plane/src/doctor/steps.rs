//! The doctor's steps: their shape, and the judgements that need no network.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mcpgw_data_plane::snapshot::ToolPolicy;
use mcpgw_shared::WorkspaceId;
use mcpgw_shared::model::{KeyState, Permission, ServerConfig, UpstreamAuth};
use serde::Serialize;

use super::Answer;
use crate::store::ApiKeyRow;

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Fine.
    Pass,
    /// Works, but something deserves attention.
    Warn,
    /// Broken: the fix says what to do.
    Fail,
    /// Not run (what it needs failed, or it does not apply).
    Skip,
}

/// One step of the triage.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What was checked (`dns`, `initialize`, …).
    pub step: &'static str,
    /// How it went.
    pub status: Outcome,
    /// What the doctor saw.
    pub detail: String,
    /// What to do, for a failure or warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// How long it took, for network steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub took_ms: Option<u64>,
}

impl Step {
    fn new(step: &'static str, status: Outcome, detail: String, fix: Option<String>) -> Self {
        Self {
            step,
            status,
            detail,
            fix,
            took_ms: None,
        }
    }

    /// A passed step.
    pub fn pass(step: &'static str, detail: impl Into<String>) -> Self {
        Self::new(step, Outcome::Pass, detail.into(), None)
    }

    /// A warning.
    pub fn warn(step: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(step, Outcome::Warn, detail.into(), Some(fix.into()))
    }

    /// A failed step and its fix.
    pub fn fail(step: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(step, Outcome::Fail, detail.into(), Some(fix.into()))
    }

    /// A step not run, and why.
    pub fn skip(step: &'static str, why: impl Into<String>) -> Self {
        Self::new(step, Outcome::Skip, why.into(), None)
    }

    /// The same step, with its duration.
    pub fn took(mut self, took: Duration) -> Self {
        self.took_ms = Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
        self
    }
}

/// The key's type, permissions and state.
pub fn key(key: &ApiKeyRow, server: &ServerConfig, now: DateTime<Utc>) -> Step {
    let kind = match key.key_type {
        mcpgw_shared::model::KeyType::User => {
            format!("user key of `{}`", key.user_id.as_deref().unwrap_or("?"))
        }
        mcpgw_shared::model::KeyType::Service => "service key".to_owned(),
    };
    let permissions: Vec<String> = key.permissions.iter().map(ToString::to_string).collect();
    let described = format!(
        "{} `{}`, {kind}, permissions [{}]",
        key.id,
        key.name,
        permissions.join(", ")
    );
    match key.state(now) {
        KeyState::Revoked => Step::fail(
            "key",
            format!("{described}: revoked"),
            "issue a new key with `POST /v1/api-keys`",
        ),
        KeyState::Expired => Step::fail(
            "key",
            format!("{described}: expired"),
            "issue a new key with `POST /v1/api-keys`",
        ),
        _ if !key.permissions.contains(&Permission::McpInvoke) => Step::fail(
            "key",
            format!("{described}: cannot call MCP servers"),
            "issue a key with the `mcp.invoke` permission",
        ),
        _ if matches!(server.auth, UpstreamAuth::Oauth2 { .. })
            && key.key_type != mcpgw_shared::model::KeyType::User =>
        {
            Step::fail(
                "key",
                format!(
                    "{described}: server `{}` signs each user in to its upstream, and this is not a user's key: clients get 403 `user_required`",
                    server.slug
                ),
                "give the client a user key (`\"type\": \"user\"` with its `user_id`)",
            )
        }
        _ => Step::pass("key", format!("{described}: usable")),
    }
}

/// Whether the server is enabled and reachable from the callers' workspaces.
pub fn provisioning(server: &ServerConfig, workspaces: &[WorkspaceId]) -> Step {
    let slug = &server.slug;
    if !server.enabled {
        return Step::fail(
            "provisioning",
            format!("server `{slug}` is disabled: clients get 403"),
            format!(
                "enable it with `PATCH /v1/servers/{}` and `{{\"enabled\": true}}`",
                server.id
            ),
        );
    }
    if let Some(outside) = workspaces.iter().find(|w| !server.serves(w)) {
        return Step::fail(
            "provisioning",
            format!(
                "server `{slug}` belongs to workspace {} and is not provisioned to workspace {outside}",
                server.workspace_id
            ),
            format!(
                "add {outside} to `provisioned` with `PATCH /v1/servers/{}`",
                server.id
            ),
        );
    }
    Step::pass(
        "provisioning",
        format!(
            "server `{slug}` is enabled at `/{slug}/mcp`, in workspace {} and provisioned to {} other(s)",
            server.workspace_id,
            server.provisioned.len()
        ),
    )
}

/// Judges the answer to `initialize`; whether it succeeded.
pub fn initialize(answer: Answer, took: Duration, steps: &mut Vec<Step>) -> bool {
    let step = match (answer.status, &answer.body) {
        (200, Some(body)) if body.get("result").is_some() => {
            let result = &body["result"];
            Step::pass(
                "initialize",
                format!(
                    "the upstream `{}` {} speaks protocol {}",
                    result["serverInfo"]["name"].as_str().unwrap_or("?"),
                    result["serverInfo"]["version"].as_str().unwrap_or(""),
                    result["protocolVersion"].as_str().unwrap_or("?")
                ),
            )
        }
        (401 | 403, _) => Step::fail(
            "initialize",
            format!(
                "the upstream refused the gateway's credentials (HTTP {})",
                answer.status
            ),
            "fix the server's upstream auth (`auth`) with `PATCH /v1/servers/{id}`",
        ),
        (404, _) => Step::fail(
            "initialize",
            "the upstream answered 404: nothing serves MCP at this URL",
            "check the URL's path: MCP endpoints usually end in `/mcp`",
        ),
        (status, Some(body)) if body.get("error").is_some() => Step::fail(
            "initialize",
            format!(
                "the upstream answered HTTP {status} with the error {}",
                body["error"]
            ),
            "check the upstream's logs",
        ),
        (status, _) => Step::fail(
            "initialize",
            format!("the upstream answered HTTP {status} without a JSON-RPC response"),
            "check that the URL is the server's Streamable HTTP MCP endpoint",
        ),
    };
    let passed = step.status == Outcome::Pass;
    steps.push(step.took(took));
    passed
}

/// Judges the answer to `tools/list`, and what the server's tool filter leaves of it.
pub fn tools(answer: Answer, policy: &ToolPolicy, took: Duration) -> Step {
    let tools: Vec<&str> = answer
        .body
        .as_ref()
        .and_then(|b| b["result"]["tools"].as_array())
        .map(|tools| tools.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    match (answer.status, &answer.body) {
        (200, Some(body)) if body.get("result").is_some() => {
            let visible = tools.iter().filter(|t| policy.permits(t)).count();
            let step = if visible == 0 && !tools.is_empty() {
                Step::warn(
                    "tools/list",
                    format!(
                        "the upstream offers {} tools; the server's tool filter hides all of them",
                        tools.len()
                    ),
                    "adjust the server's `tools` filter",
                )
            } else {
                Step::pass(
                    "tools/list",
                    format!(
                        "{} tools, {visible} visible to clients: {}",
                        tools.len(),
                        tools.join(", ")
                    ),
                )
            };
            step.took(took)
        }
        (status, body) => Step::fail(
            "tools/list",
            format!(
                "HTTP {status}{}",
                body.as_ref()
                    .and_then(|b| b.get("error"))
                    .map(|e| format!(", error {e}"))
                    .unwrap_or_default()
            ),
            "check the upstream's logs",
        )
        .took(took),
    }
}
