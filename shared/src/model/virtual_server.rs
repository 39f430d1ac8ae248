//! Virtual servers: one slug whose tools, prompts and resources are those of several member
//! servers, each reached with its own upstream auth.

use serde::{Deserialize, Serialize};

/// The members of a virtual server and how their names meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServer {
    /// The member servers, in order (on a name conflict without prefixes, the first wins).
    pub members: Vec<Member>,
    /// When tool and prompt names carry their member's slug (`<slug>__<name>`).
    #[serde(default)]
    pub prefix: PrefixMode,
}

impl VirtualServer {
    /// Most members one virtual server may have.
    pub const MAX_MEMBERS: usize = 16;
}

/// One member of a virtual server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The member server's slug.
    pub server: String,
    /// What a failure of this member does to a request that fans out to every member.
    #[serde(default)]
    pub on_failure: FailureMode,
}

/// When names carry their member's slug.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrefixMode {
    /// Every name: `<slug>__<name>`.
    Always,
    /// Only names two members share.
    #[default]
    OnConflict,
    /// Never (a name two members share is the first member's).
    Never,
}

/// What a member's failure does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// The whole request fails, naming the member.
    #[default]
    Closed,
    /// The others answer; the failing member is logged and named in the result's `_meta`.
    Open,
}

impl PrefixMode {
    /// The name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::OnConflict => "on_conflict",
            Self::Never => "never",
        }
    }

    /// The mode named `text` in the API.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Always, Self::OnConflict, Self::Never]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

impl FailureMode {
    /// The name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
        }
    }

    /// The mode named `text` in the API.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Closed, Self::Open]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

/// Separates a member's slug from a name in prefixed names.
pub const PREFIX_SEPARATOR: &str = "__";
