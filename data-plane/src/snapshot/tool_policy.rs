//! A server's tool policy compiled for lookups: which upstream tools clients may see and call
//! (allow and deny by name or glob), and the names and descriptions they see them by.

use std::collections::HashMap;
use std::sync::Arc;

use mcpgw_shared::model::{InvalidPattern, ToolFilter, ToolOverride, ToolPattern};

/// A server's tool policy, compiled. Cheap to clone: admission limits it by the caller's
/// workspace's on every request.
#[derive(Debug, Clone, Default)]
pub struct ToolPolicy {
    rules: Arc<Rules>,
    /// Policies that limit this one further (the caller's workspace's, key's and user's): a
    /// tool must pass each.
    limits: Vec<(Owner, Arc<ToolPolicy>)>,
}

/// Whose policy limits a server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The caller's workspace's `tools`.
    Workspace,
    /// The grants of the caller's API key.
    Key,
    /// The grants of the caller's user.
    User,
}

impl Owner {
    /// As rules name it (`workspace`, `key`, `user`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workspace => "workspace",
            Self::Key => "key",
            Self::User => "user",
        }
    }

    /// Whose grants, as messages name them (`your API key's grants`).
    pub fn describe_grants(self) -> &'static str {
        match self {
            Self::Key => "your API key's grants",
            _ => "your user's grants",
        }
    }

    /// As messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Workspace => "your workspace's tool policy",
            Self::Key => "your API key's grants",
            Self::User => "your user's grants",
        }
    }
}

/// One filter's rules, compiled.
#[derive(Debug, Default)]
struct Rules {
    source: ToolFilter,
    allow: Option<Vec<ToolPattern>>,
    deny: Vec<ToolPattern>,
    read_only: bool,
    /// Upstream name to how clients see it.
    overrides: HashMap<Box<str>, ToolOverride>,
    /// Shown name to upstream name, for tools shown under another name.
    upstream_names: HashMap<Box<str>, Box<str>>,
}

/// Two policies are the same when they were compiled from the same filters.
impl PartialEq for ToolPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.rules.source == other.rules.source && self.limits == other.limits
    }
}

impl Eq for ToolPolicy {}

/// What a tool's `annotations` say about its effects (MCP's hints; absent means unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ToolAnnotations {
    /// `readOnlyHint`.
    #[serde(rename = "readOnlyHint")]
    pub read_only: Option<bool>,
    /// `destructiveHint`.
    #[serde(rename = "destructiveHint")]
    pub destructive: Option<bool>,
}

impl ToolAnnotations {
    /// Whether the tool says it only reads: `readOnlyHint: true`, and not `destructiveHint: true`.
    pub fn only_reads(&self) -> bool {
        self.read_only == Some(true) && self.destructive != Some(true)
    }
}

/// Why a client may not see or call a tool: the rule, as the error names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Hidden {
    /// An `allow` list exists, and no entry matches.
    #[error("it matches no entry of `tools.allow`")]
    NotAllowed,
    /// A `deny` entry matches.
    #[error("it matches `{0}` in `tools.deny`")]
    Denied(String),
    /// The tool is shown under another name.
    #[error("it is shown as `{0}` (`tools.overrides`)")]
    Renamed(String),
    /// The policy is read-only, and the tool's annotations do not say it only reads.
    #[error(
        "it is read-only (`tools.read_only`) and the tool is not annotated `readOnlyHint: true` without `destructiveHint: true`"
    )]
    NotReadOnly,
    /// The caller's workspace's policy, or the grants of their key or user, hide it.
    #[error("{1}")]
    By(Owner, Box<Hidden>),
}

impl Hidden {
    /// The rule as a short machine-readable text (`allow`, `deny:<pattern>`, `override`,
    /// `read_only`; prefixed `workspace:`, `key:` or `user:` when not the server's).
    pub fn rule(&self) -> String {
        match self {
            Self::NotAllowed => "allow".to_owned(),
            Self::Denied(pattern) => format!("deny:{pattern}"),
            Self::Renamed(_) => "override".to_owned(),
            Self::NotReadOnly => "read_only".to_owned(),
            Self::By(owner, inner) => format!("{}:{}", owner.as_str(), inner.rule()),
        }
    }
}

impl ToolPolicy {
    /// Compiles `filter`.
    pub fn compile(filter: &ToolFilter) -> Result<Self, InvalidPattern> {
        let patterns = |list: &[String]| {
            list.iter()
                .map(|p| ToolPattern::parse(p))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            rules: Arc::new(Rules {
                allow: filter.allow.as_deref().map(patterns).transpose()?,
                deny: patterns(&filter.deny)?,
                read_only: filter.read_only,
                overrides: filter
                    .overrides
                    .iter()
                    .map(|(tool, shown)| (tool.as_str().into(), shown.clone()))
                    .collect(),
                upstream_names: filter
                    .overrides
                    .iter()
                    .filter_map(|(tool, shown)| {
                        let name = shown.name.as_deref()?;
                        Some((name.into(), tool.as_str().into()))
                    })
                    .collect(),
                source: filter.clone(),
            }),
            limits: Vec::new(),
        })
    }

    /// This policy, further limited by `owner`'s `outer` (its allow, deny and read-only rules
    /// apply too, to the upstream's names).
    pub fn limited_by(&self, owner: Owner, outer: Arc<ToolPolicy>) -> Self {
        let mut limited = self.clone();
        limited.limits.push((owner, outer));
        limited
    }

    /// The filter it was compiled from.
    pub fn source(&self) -> &ToolFilter {
        &self.rules.source
    }

    /// Whether the upstream tool `name` may be listed and called, and if not, which rule hides
    /// it.
    pub fn verdict(&self, name: &str) -> Result<(), Hidden> {
        if let Some(pattern) = self.rules.deny.iter().find(|p| p.matches(name)) {
            return Err(Hidden::Denied(pattern.as_str().to_owned()));
        }
        if let Some(allow) = &self.rules.allow
            && !allow.iter().any(|p| p.matches(name))
        {
            return Err(Hidden::NotAllowed);
        }
        self.limits.iter().try_for_each(|(owner, limit)| {
            limit
                .verdict(name)
                .map_err(|hidden| Hidden::By(*owner, Box::new(hidden)))
        })
    }

    /// Whether the upstream tool `name` may be listed and called.
    pub fn permits(&self, name: &str) -> bool {
        self.verdict(name).is_ok()
    }

    /// The upstream name of the tool a client calls `shown`, if the client may call it. The
    /// upstream name of a tool shown under another name is not callable as such.
    pub fn resolve<'a>(&'a self, shown: &'a str) -> Result<&'a str, Hidden> {
        let upstream = match self.rules.upstream_names.get(shown) {
            Some(upstream) => upstream,
            None => match self
                .rules
                .overrides
                .get(shown)
                .and_then(|o| o.name.as_deref())
            {
                Some(renamed) => return Err(Hidden::Renamed(renamed.to_owned())),
                None => shown,
            },
        };
        self.verdict(upstream).map(|()| upstream)
    }

    /// Whether the upstream tool `name` is hidden because another tool is shown under its name.
    pub fn shadowed(&self, name: &str) -> bool {
        self.rules
            .upstream_names
            .get(name)
            .is_some_and(|upstream| &**upstream != name)
    }

    /// How clients see the upstream tool `name`, when the policy changes it.
    pub fn presentation(&self, name: &str) -> Option<&ToolOverride> {
        self.rules.overrides.get(name)
    }

    /// Whether only tools annotated read-only may be seen and called.
    pub fn read_only(&self) -> bool {
        self.rules.read_only || self.limits.iter().any(|(_, limit)| limit.read_only())
    }

    /// Whether a tool with these annotations passes the read-only rule.
    pub fn admits(&self, annotations: &ToolAnnotations) -> Result<(), Hidden> {
        if annotations.only_reads() || !self.read_only() {
            return Ok(());
        }
        match self.limits.iter().find(|(_, limit)| limit.read_only()) {
            Some((owner, _)) if !self.rules.read_only => {
                Err(Hidden::By(*owner, Box::new(Hidden::NotReadOnly)))
            }
            _ => Err(Hidden::NotReadOnly),
        }
    }

    /// Whether the policy hides or changes anything at all (if not, answers are never read).
    pub fn filters_anything(&self) -> bool {
        self.rules.allow.is_some()
            || !self.rules.deny.is_empty()
            || self.rules.read_only
            || !self.rules.overrides.is_empty()
            || self
                .limits
                .iter()
                .any(|(_, limit)| limit.filters_anything())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> ToolPolicy {
        ToolPolicy::compile(&serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn deny_wins_over_allow_and_names_its_pattern() {
        let p = policy(r#"{"allow":["repo_*"],"deny":["*_delete"]}"#);
        assert_eq!(p.verdict("repo_read"), Ok(()));
        assert_eq!(
            p.verdict("repo_delete"),
            Err(Hidden::Denied("*_delete".into()))
        );
        assert_eq!(p.verdict("issue_read"), Err(Hidden::NotAllowed));
        assert_eq!(Hidden::Denied("*_delete".into()).rule(), "deny:*_delete");
    }

    #[test]
    fn a_workspace_policy_limits_the_servers_further() {
        let server = policy(r#"{"deny":["admin_*"],"overrides":{"find_v2":{"name":"find"}}}"#);
        let workspace = Arc::new(policy(r#"{"allow":["find_*","read"]}"#));
        let both = server.limited_by(Owner::Workspace, workspace.clone());
        assert_eq!(both.resolve("find"), Ok("find_v2"));
        assert_eq!(both.verdict("read"), Ok(()));
        assert_eq!(
            both.verdict("write"),
            Err(Hidden::By(Owner::Workspace, Box::new(Hidden::NotAllowed)))
        );
        assert_eq!(
            Hidden::By(Owner::Workspace, Box::new(Hidden::NotAllowed)).rule(),
            "workspace:allow"
        );
        let granted = both.limited_by(Owner::Key, Arc::new(policy(r#"{"deny":["read"]}"#)));
        assert_eq!(
            granted.verdict("read"),
            Err(Hidden::By(
                Owner::Key,
                Box::new(Hidden::Denied("read".into()))
            ))
        );
        assert_eq!(granted.verdict("read").unwrap_err().rule(), "key:deny:read");
        assert_eq!(
            both.verdict("admin_x"),
            Err(Hidden::Denied("admin_*".into()))
        );
        assert!(!both.read_only());
        let read_only = server.limited_by(Owner::User, Arc::new(policy(r#"{"read_only":true}"#)));
        assert_eq!(
            read_only.admits(&ToolAnnotations::default()),
            Err(Hidden::By(Owner::User, Box::new(Hidden::NotReadOnly)))
        );
        assert!(read_only.read_only() && read_only.filters_anything());
        assert_ne!(both, server);
    }

    #[test]
    fn read_only_admits_only_tools_that_say_they_only_read() {
        let p = policy(r#"{"read_only":true}"#);
        let says = |json: &str| serde_json::from_str::<ToolAnnotations>(json).unwrap();
        assert_eq!(p.admits(&says(r#"{"readOnlyHint":true}"#)), Ok(()));
        for json in [
            r#"{}"#,
            r#"{"readOnlyHint":false}"#,
            r#"{"readOnlyHint":true,"destructiveHint":true}"#,
        ] {
            assert_eq!(p.admits(&says(json)), Err(Hidden::NotReadOnly), "{json}");
        }
        assert_eq!(policy("{}").admits(&says("{}")), Ok(()));
    }

    #[test]
    fn a_renamed_tool_is_called_by_its_shown_name_only() {
        let p = policy(
            r#"{"overrides":{"search_v2":{"name":"search"},"echo":{"description":"Says"}}}"#,
        );
        assert_eq!(p.resolve("search"), Ok("search_v2"));
        assert_eq!(
            p.resolve("search_v2"),
            Err(Hidden::Renamed("search".into()))
        );
        assert_eq!(p.resolve("echo"), Ok("echo"));
        assert!(p.filters_anything());
        let denied = policy(r#"{"deny":["search_*"],"overrides":{"search_v2":{"name":"search"}}}"#);
        assert_eq!(
            denied.resolve("search"),
            Err(Hidden::Denied("search_*".into())),
            "policies apply to the upstream name"
        );
    }
}
