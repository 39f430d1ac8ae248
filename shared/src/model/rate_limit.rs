//! Rate limits and quotas of a server: how many requests (per minute, hour or day) and how
//! many concurrent calls one key, user, workspace, tool or the whole server may make.

use serde::{Deserialize, Serialize};

/// Whose budget a limit counts: one counter per distinct value of this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// Each API key on its own.
    Key,
    /// Each user on their own (all their keys together); a service key counts as its own user.
    User,
    /// Each workspace on its own (all its keys together).
    Workspace,
    /// The whole server: every caller together.
    Server,
    /// Each tool on its own, every caller together; only `tools/call` counts.
    Tool,
}

impl LimitScope {
    /// The name in the API (`key`, `user`, `workspace`, `server`, `tool`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::User => "user",
            Self::Workspace => "workspace",
            Self::Server => "server",
            Self::Tool => "tool",
        }
    }
}

impl std::str::FromStr for LimitScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "key" => Self::Key,
            "user" => Self::User,
            "workspace" => Self::Workspace,
            "server" => Self::Server,
            "tool" => Self::Tool,
            other => {
                return Err(format!(
                    "`{other}` is not a limit scope: use key, user, workspace, server or tool"
                ));
            }
        })
    }
}

/// One limit of a server. Requests count once their JSON-RPC body is read; `initialize`,
/// `ping`, notifications and responses never count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Whose budget it is.
    pub by: LimitScope,
    /// When not empty, only calls (`tools/call`) of tools matching one of these names or
    /// globs count, by the upstream's tool name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Requests per calendar minute (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<u32>,
    /// Requests per calendar hour (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_hour: Option<u32>,
    /// Requests per calendar day (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u32>,
    /// Requests in flight at once (until their answer, streamed or not, is complete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<u32>,
}

impl RateLimit {
    /// Most limits one server may have.
    pub const MAX_PER_SERVER: usize = 16;

    /// Whether it limits anything (at least one of the four bounds is set).
    pub fn bounds_anything(&self) -> bool {
        self.per_minute.is_some()
            || self.per_hour.is_some()
            || self.per_day.is_some()
            || self.concurrent.is_some()
    }
}
