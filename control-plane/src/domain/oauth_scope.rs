//! The scopes of the gateway's authorization server: what a client may ask for and a grant
//! holds, as the space-separated text OAuth carries them in.

use super::DomainError;

/// Listing a server's tools.
pub const TOOLS_LIST: &str = "mcp:tools:list";
/// Calling a server's tools.
pub const TOOLS_CALL: &str = "mcp:tools:call";
/// Everything the gateway grants.
pub const ALL: &str = "mcp:*";

/// Every scope, as a client that names none may ask for.
pub const EVERY_SCOPE: &str = "mcp:tools:list mcp:tools:call mcp:*";

/// The scopes of `text` (space-separated), each once and in their first order, or an error
/// naming `field` when one is not a scope of the gateway.
pub fn parse(field: &str, text: &str) -> Result<Vec<String>, DomainError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in text.split(' ').filter(|s| !s.is_empty()) {
        if ![TOOLS_LIST, TOOLS_CALL, ALL].contains(&scope) {
            return Err(DomainError::invalid(
                field,
                format!(
                    "`{}` is not a scope of the gateway (use {TOOLS_LIST}, {TOOLS_CALL} or {ALL})",
                    scope.chars().take(64).collect::<String>()
                ),
            ));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    Ok(scopes)
}

/// Whether every scope of `asked` is one of `allowed` (`mcp:*` allows every scope).
pub fn covers(allowed: &str, asked: &str) -> bool {
    let allowed: Vec<&str> = allowed.split(' ').collect();
    allowed.contains(&ALL)
        || asked
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| allowed.contains(&s))
}

#[cfg(test)]
mod tests;
