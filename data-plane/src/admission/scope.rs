//! The scopes of the gateway's own OAuth access tokens and what each MCP request needs of
//! them: `tools/call` needs `mcp:tools:call`; every other request needs either MCP scope (a
//! client allowed to call tools may also list them); `mcp:*` is both. API keys and external
//! JWTs carry no scopes and are not limited by them.

use crate::protocol::message::{Body, Kind};

/// Lets a client list tools (and make every request other than `tools/call`).
pub const TOOLS_LIST: &str = "mcp:tools:list";
/// Lets a client call tools.
pub const TOOLS_CALL: &str = "mcp:tools:call";
/// Every MCP scope.
pub const ALL: &str = "mcp:*";
/// The scopes the gateway's authorization server issues.
pub const SUPPORTED: [&str; 3] = [TOOLS_LIST, TOOLS_CALL, ALL];
/// What a client without a token is told to ask for.
pub const CHALLENGE: &str = "mcp:tools:list mcp:tools:call";

/// The MCP scopes a token grants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes {
    list: bool,
    call: bool,
}

impl Scopes {
    /// The MCP scopes among the space-separated `text` (others are ignored).
    pub fn parse(text: &str) -> Self {
        text.split_ascii_whitespace()
            .fold(Self::default(), |scopes, scope| match scope {
                TOOLS_LIST => Self {
                    list: true,
                    ..scopes
                },
                TOOLS_CALL => Self {
                    call: true,
                    ..scopes
                },
                ALL => Self {
                    list: true,
                    call: true,
                },
                _ => scopes,
            })
    }

    /// The scope a request of `method` needs that these lack, if any.
    pub fn lacks(&self, method: &str) -> Option<&'static str> {
        match method {
            "tools/call" if !self.call => Some(TOOLS_CALL),
            _ if !self.list && !self.call => Some(TOOLS_LIST),
            _ => None,
        }
    }

    /// The scope a request in `body` needs that these lack, if any (notifications and
    /// responses need none).
    pub fn lacks_for(&self, body: &Body) -> Option<&'static str> {
        body.messages()
            .iter()
            .filter(|m| m.kind == Kind::Request)
            .find_map(|m| self.lacks(m.method.as_deref().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calling_tools_needs_the_call_scope_and_everything_else_any_mcp_scope() {
        let list = Scopes::parse("openid mcp:tools:list");
        assert_eq!(list.lacks("tools/list"), None);
        assert_eq!(list.lacks("initialize"), None);
        assert_eq!(list.lacks("tools/call"), Some(TOOLS_CALL));
        let call = Scopes::parse("mcp:tools:call");
        assert_eq!(call.lacks("tools/call"), None);
        assert_eq!(call.lacks("tools/list"), None);
        assert_eq!(Scopes::parse("mcp:*"), Scopes::parse(CHALLENGE));
        let none = Scopes::parse("openid profile");
        assert_eq!(none.lacks("ping"), Some(TOOLS_LIST));
    }
}
