//! `mcpgw apply -f servers.yaml`: a declarative sync of servers, the way decK syncs Kong. The
//! file names the servers that should exist; `plan` compares it with what the control plane
//! holds and lists the creations, updates (field by field) and, with `--prune`, deletions that
//! would make them match; `run::apply` prints the plan and carries it out unless `--dry-run`.
//!
//! Secrets cannot be read back (the API shows `{"set": true}`), so a plan compares an auth
//! block by its shape and non-secret fields: a changed secret value alone is not a change here
//! (rotate it with `mcpgw servers update` or the API).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::CliError;

/// The file: the servers that should exist.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Desired {
    /// The servers.
    pub servers: Vec<DesiredServer>,
}

/// One server as the file wants it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredServer {
    /// Its workspace, by id or name.
    pub workspace: String,
    /// Its slug (the key that matches it to an existing server).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Upstream URL.
    pub url: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Upstream auth, as the API takes it; default `{"type": "none"}`.
    #[serde(default = "no_auth")]
    pub auth: Value,
    /// Tool filter, as the API takes it.
    #[serde(default = "no_filter")]
    pub tools: Value,
    /// Whether clients may use it.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// What the request log keeps of its requests (`arguments`, `results`, `max_bytes`); the
    /// fields not given take the API's defaults (metadata only, 4096 bytes).
    #[serde(default)]
    pub request_logging: serde_json::Map<String, Value>,
    /// Rate limits and quotas, as the API takes them; default none.
    #[serde(default = "no_limits")]
    pub rate_limits: Value,
    /// What the upstream is told of the caller; default nothing. Read with the API's
    /// defaults filled in, so it compares with what the API shows.
    #[serde(default)]
    pub identity_forwarding: mcpgw_shared::model::IdentityForwarding,
}

/// A request-logging policy as the API shows it: `given` over the API's defaults.
fn request_logging(given: &serde_json::Map<String, Value>) -> Value {
    let mut policy = json!({"arguments": false, "results": false, "max_bytes": 4096});
    for (field, value) in given {
        policy[field] = value.clone();
    }
    policy
}

fn no_auth() -> Value {
    json!({"type": "none"})
}

fn no_filter() -> Value {
    json!({})
}

fn no_limits() -> Value {
    json!([])
}

fn enabled() -> bool {
    true
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Register a server.
    Create {
        /// Its slug.
        slug: String,
        /// The `POST /v1/servers` body.
        body: Value,
    },
    /// Change a server.
    Update {
        /// Its slug.
        slug: String,
        /// Its id.
        id: String,
        /// Each changed field: name, before, after.
        fields: Vec<(String, Value, Value)>,
        /// The `PATCH` body (the changed fields and the version read).
        body: Value,
    },
    /// Delete a server (`--prune`).
    Delete {
        /// Its slug.
        slug: String,
        /// Its id.
        id: String,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Create { slug, .. } => write!(f, "+ create {slug}"),
            Self::Delete { slug, .. } => write!(f, "- delete {slug}"),
            Self::Update { slug, fields, .. } => {
                write!(f, "~ update {slug}")?;
                for (field, before, after) in fields {
                    write!(f, "\n    {field}: {before} -> {after}")?;
                }
                Ok(())
            }
        }
    }
}

/// Reads the file's text.
pub fn parse(text: &str) -> Result<Desired, CliError> {
    serde_yaml_ng::from_str(text).map_err(|e| CliError::Usage(format!("the apply file: {e}")))
}

/// The changes that make `servers` (the API's server documents) what `desired` says, given
/// `workspaces` (the API's workspace documents) to resolve names.
pub fn plan(
    desired: &Desired,
    servers: &[Value],
    workspaces: &[Value],
    prune: bool,
) -> Result<Vec<Change>, CliError> {
    let workspace_id = |wanted: &str| -> Result<String, CliError> {
        workspaces
            .iter()
            .find(|w| w["id"] == wanted || w["name"] == wanted)
            .and_then(|w| w["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| CliError::Usage(format!("the apply file names workspace `{wanted}`, which does not exist or is not yours")))
    };
    let by_slug: BTreeMap<&str, &Value> = servers
        .iter()
        .filter_map(|s| s["slug"].as_str().map(|slug| (slug, s)))
        .collect();
    let mut changes = Vec::new();
    let mut named_workspaces = Vec::new();
    for server in &desired.servers {
        let workspace = workspace_id(&server.workspace)?;
        named_workspaces.push(workspace.clone());
        let wanted = json!({
            "name": server.name, "url": server.url, "description": server.description,
            "auth": server.auth, "tools": server.tools, "enabled": server.enabled,
            "request_logging": request_logging(&server.request_logging),
            "rate_limits": server.rate_limits,
            "identity_forwarding": server.identity_forwarding,
        });
        match by_slug.get(server.slug.as_str()) {
            None => {
                let mut body = wanted.clone();
                body["workspace_id"] = json!(workspace);
                body["slug"] = json!(server.slug);
                changes.push(Change::Create {
                    slug: server.slug.clone(),
                    body,
                });
            }
            Some(current) => {
                if let Some(update) = update(&server.slug, current, &wanted) {
                    changes.push(update);
                }
            }
        }
    }
    if prune {
        for server in servers {
            let in_scope = named_workspaces
                .iter()
                .any(|w| server["workspace_id"] == *w);
            let named = desired
                .servers
                .iter()
                .any(|d| server["slug"] == d.slug.as_str());
            if in_scope && !named {
                changes.push(Change::Delete {
                    slug: server["slug"].as_str().unwrap_or_default().to_owned(),
                    id: server["id"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    Ok(changes)
}

fn update(slug: &str, current: &Value, wanted: &Value) -> Option<Change> {
    let mut fields = Vec::new();
    let mut body = json!({ "version": current["version"] });
    for field in [
        "name",
        "url",
        "description",
        "auth",
        "tools",
        "enabled",
        "request_logging",
        "rate_limits",
        "identity_forwarding",
    ] {
        let after = &wanted[field];
        let comparable = if field == "auth" {
            masked(after)
        } else {
            after.clone()
        };
        // A control plane older than rate limits shows none.
        let now = match &current[field] {
            Value::Null if field == "rate_limits" => no_limits(),
            // Nor identity forwarding.
            Value::Null if field == "identity_forwarding" => json!({"mode": "none"}),
            shown => shown.clone(),
        };
        if now != comparable {
            fields.push((field.to_owned(), now, comparable));
            body[field] = after.clone();
        }
    }
    (!fields.is_empty()).then(|| Change::Update {
        slug: slug.to_owned(),
        id: current["id"].as_str().unwrap_or_default().to_owned(),
        fields,
        body,
    })
}

/// An auth block as the API shows it back: every secret as `{"set": true}`.
fn masked(auth: &Value) -> Value {
    let mut shown = auth.clone();
    let set = json!({"set": true});
    match auth["type"].as_str() {
        Some("headers") => {
            if let Some(headers) = shown["headers"].as_object_mut() {
                headers.values_mut().for_each(|v| *v = set.clone());
            }
        }
        Some("client_credentials") => shown["client_secret"] = set,
        Some("oauth2") if shown["oauth_metadata"]["client_secret"].is_string() => {
            shown["oauth_metadata"]["client_secret"] = set;
        }
        _ => {}
    }
    shown
}

#[cfg(test)]
mod tests;
