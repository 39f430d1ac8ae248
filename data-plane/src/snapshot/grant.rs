//! One key's or user's grants, compiled for the request path: the servers it may use and the
//! tool policy that limits them.

use std::collections::HashSet;
use std::sync::Arc;

use mcpgw_shared::model::{Grants, InvalidPattern};

use super::tool_policy::ToolPolicy;

/// Grants, compiled.
#[derive(Debug)]
pub struct Grant {
    source: Grants,
    servers: Option<HashSet<Box<str>>>,
    tools: Arc<ToolPolicy>,
}

/// Two grants are the same when they were compiled from the same grants.
impl PartialEq for Grant {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Grant {}

impl Grant {
    /// Compiles `grants`.
    pub fn compile(grants: Grants) -> Result<Self, InvalidPattern> {
        Ok(Self {
            servers: grants
                .servers
                .as_ref()
                .map(|slugs| slugs.iter().map(|s| s.as_str().into()).collect()),
            tools: Arc::new(ToolPolicy::compile(&grants.tools)?),
            source: grants,
        })
    }

    /// What it was compiled from.
    pub fn source(&self) -> &Grants {
        &self.source
    }

    /// Whether it lets its holder use the server at `slug`.
    pub fn allows_server(&self, slug: &str) -> bool {
        self.servers.as_ref().is_none_or(|s| s.contains(slug))
    }

    /// The tool policy it adds.
    pub fn tools(&self) -> &Arc<ToolPolicy> {
        &self.tools
    }
}
