//! Grants: what one API key or one user of a workspace may use, within what the workspace is
//! provisioned. A workspace keeps them by subject: `key:<api key id>` or `user:<user id>`.

use serde::{Deserialize, Serialize};

use super::ToolFilter;

/// What a key or a user may use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// When present, only these servers (by slug); the others answer 403 `not_granted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<String>>,
    /// Limits the tools of every server reached (`allow`, `deny`, `read_only`), on top of the
    /// server's and the workspace's policies.
    #[serde(default)]
    pub tools: ToolFilter,
}

/// Whose grants an entry of a workspace's `grants` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantSubject<'a> {
    /// An API key, by id.
    Key(&'a str),
    /// A user, by id.
    User(&'a str),
}

impl<'a> GrantSubject<'a> {
    /// Reads `key:<id>` or `user:<id>`.
    pub fn parse(text: &'a str) -> Option<Self> {
        match text.split_once(':')? {
            ("key", id) if !id.is_empty() => Some(Self::Key(id)),
            ("user", id) if !id.is_empty() => Some(Self::User(id)),
            _ => None,
        }
    }
}

/// The entry name of an API key's grants.
pub fn key_subject(key_id: &str) -> String {
    format!("key:{key_id}")
}

/// The entry name of a user's grants.
pub fn user_subject(user_id: &str) -> String {
    format!("user:{user_id}")
}
