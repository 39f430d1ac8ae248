//! A server's or a workspace's rate limits compiled once, when the configuration is applied:
//! tool patterns parsed, and each limit given a fingerprint that every pod computes alike, so
//! their counters of the same limit meet on the bus.

use mcpgw_shared::model::{InvalidPattern, LimitScope, RateLimit, ToolPattern};
use mcpgw_shared::{ServerId, WorkspaceId};
use sha2::{Digest, Sha256};

use super::table::Window;

/// A server's limits, ready for the request path.
#[derive(Debug, Clone, Default)]
pub struct ServerLimits {
    limits: Vec<CompiledLimit>,
    source: Vec<RateLimit>,
    /// Whose they are, as refusals name them.
    owner: Owner,
}

/// Whose limits they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Owner {
    /// A server's: they count requests to it.
    #[default]
    Server,
    /// A workspace's: they count its keys' requests to every server.
    Workspace,
}

/// Two servers' limits are the same when they were compiled from the same list for the same
/// server.
impl PartialEq for ServerLimits {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
            && self.owner == other.owner
            && self
                .limits
                .iter()
                .map(|l| l.fingerprint)
                .eq(other.limits.iter().map(|l| l.fingerprint))
    }
}

impl Eq for ServerLimits {}

/// One limit of a server.
#[derive(Debug, Clone)]
pub(super) struct CompiledLimit {
    /// Its place in the server's `rate_limits`, for errors.
    pub index: usize,
    /// Whose budget it is.
    pub by: LimitScope,
    /// Only calls of these tools count (empty: every request, or every call for `by: tool`).
    pub tools: Vec<ToolPattern>,
    /// Each bound it sets.
    pub bounds: Vec<(Window, u32)>,
    /// The same on every pod for the same server and limit.
    pub fingerprint: [u8; 16],
}

impl ServerLimits {
    /// Compiles the limits of server `id`.
    pub fn compile(id: ServerId, limits: &[RateLimit]) -> Result<Self, InvalidPattern> {
        Self::compile_for(Owner::Server, &id.to_string(), limits)
    }

    /// Compiles the limits of workspace `id`.
    pub fn compile_for_workspace(
        id: WorkspaceId,
        limits: &[RateLimit],
    ) -> Result<Self, InvalidPattern> {
        Self::compile_for(Owner::Workspace, &format!("workspace:{id}"), limits)
    }

    fn compile_for(
        owner_kind: Owner,
        owner: &str,
        limits: &[RateLimit],
    ) -> Result<Self, InvalidPattern> {
        let compiled = limits
            .iter()
            .enumerate()
            .map(|(index, limit)| {
                let tools = limit
                    .tools
                    .iter()
                    .map(|t| ToolPattern::parse(t))
                    .collect::<Result<Vec<_>, _>>()?;
                let bounds = [
                    (Window::Minute, limit.per_minute),
                    (Window::Hour, limit.per_hour),
                    (Window::Day, limit.per_day),
                    (Window::Concurrent, limit.concurrent),
                ]
                .into_iter()
                .filter_map(|(window, bound)| Some((window, bound?)))
                .collect();
                Ok(CompiledLimit {
                    index,
                    by: limit.by,
                    tools,
                    bounds,
                    fingerprint: fingerprint(owner, index, limit),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            limits: compiled,
            source: limits.to_vec(),
            owner: owner_kind,
        })
    }

    /// The limits they were compiled from.
    pub fn source(&self) -> &[RateLimit] {
        &self.source
    }

    /// Whose limits they are.
    pub fn owner(&self) -> Owner {
        self.owner
    }

    /// Whether the server has no limits (the request path then does nothing).
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Whether any limit bounds calls in flight (their answers must then be watched to the
    /// end).
    pub fn bounds_concurrency(&self) -> bool {
        self.limits
            .iter()
            .any(|l| l.bounds.iter().any(|(w, _)| *w == Window::Concurrent))
    }

    /// The limits that count a request: a call of `tool` (by its upstream name), or another
    /// request when `tool` is `None`.
    pub(super) fn counting<'a>(
        &'a self,
        tool: Option<&'a str>,
    ) -> impl Iterator<Item = &'a CompiledLimit> + 'a {
        self.limits.iter().filter(move |limit| {
            let tool_limited = limit.by == LimitScope::Tool || !limit.tools.is_empty();
            match tool {
                None => !tool_limited,
                Some(name) => limit.tools.is_empty() || limit.tools.iter().any(|p| p.matches(name)),
            }
        })
    }
}

/// A limit's identity: its owner, its place and its content. Changing a limit starts its
/// counts afresh; every pod derives the same bytes from the same configuration.
fn fingerprint(owner: &str, index: usize, limit: &RateLimit) -> [u8; 16] {
    let mut hash = Sha256::new();
    hash.update(owner.as_bytes());
    hash.update((index as u64).to_be_bytes());
    // The model serializes deterministically (fixed field order, no maps).
    hash.update(serde_json::to_vec(limit).unwrap_or_default());
    let digest = hash.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}
