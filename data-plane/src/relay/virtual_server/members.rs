//! A virtual server's members as one request reaches them: resolved and checked as the
//! caller, asked in member sessions of this pod's own (session era), their listings fetched
//! whole and merged, and the merged listings kept to route calls.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use mcpgw_shared::ServerId;
use mcpgw_shared::model::FailureMode;
use mcpgw_shared::version::VERSION;
use serde_json::{Value, json};

use super::listing::{Listing, Section, shown_tools};
use super::{Call, is_callers};
use crate::admission::MCP_SESSION_ID;
use crate::errors::GatewayError;
use crate::protocol::era::{self, Era};
use crate::relay::ask::{Asker, ask};
use crate::snapshot::{Route, ToolPolicy};

/// Most pages of one member's listing read.
const MAX_PAGES: usize = 20;
/// How long a member session is kept unused.
const MEMBER_SESSION_IDLE: Duration = Duration::from_secs(3600);
/// Most member sessions a pod keeps.
const MAX_MEMBER_SESSIONS: u64 = 100_000;
/// How long a merged listing routes calls (a name it lacks is looked up afresh).
const LISTING_KEPT_FOR: Duration = Duration::from_secs(30);
/// Most merged listings a pod keeps.
const MAX_LISTINGS: u64 = 10_000;

/// A merged listing of a virtual server, by its id and version, the caller and the section.
type ListingKey = (ServerId, i64, String, Section);

/// What a pod keeps for virtual servers: the sessions it opened with members (by the client's
/// session token, member and its connection version), and the merged listings that calls are
/// routed by.
#[derive(Clone)]
pub struct VirtualState {
    sessions: moka::future::Cache<(String, ServerId, i64), Arc<str>>,
    listings: moka::future::Cache<ListingKey, Arc<Listing>>,
}

impl Default for VirtualState {
    fn default() -> Self {
        Self {
            sessions: moka::future::Cache::builder()
                .max_capacity(MAX_MEMBER_SESSIONS)
                .time_to_idle(MEMBER_SESSION_IDLE)
                .build(),
            listings: moka::future::Cache::builder()
                .max_capacity(MAX_LISTINGS)
                .time_to_live(LISTING_KEPT_FOR)
                .build(),
        }
    }
}

impl std::fmt::Debug for VirtualState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualState")
            .field("sessions", &self.sessions.entry_count())
            .field("listings", &self.listings.entry_count())
            .finish()
    }
}

/// A member as a request reaches it.
pub(super) struct Reached {
    pub(super) route: Arc<Route>,
    /// Its tool policy for this caller.
    pub(super) tools: Arc<ToolPolicy>,
}

/// A member's failure, as the request or `_meta` reports it.
pub(super) struct MemberFailure {
    slug: String,
    error: Box<GatewayError>,
}

impl Call<'_> {
    pub(super) fn protocol_version(&self) -> &str {
        match (self.claims, self.era) {
            (Some(claims), _) => claims.protocol_version.as_str(),
            (None, Era::Stateless) => era::MODERN,
            (None, Era::Sessions) => era::DEFAULT_LEGACY,
        }
    }

    /// The members, as this caller reaches them; a member that no longer exists or that the
    /// caller may not use is a failing member.
    pub(super) fn members(&self) -> Vec<Result<Reached, MemberFailure>> {
        let config = self.state.store.load();
        let now = chrono::Utc::now();
        self.members
            .members
            .iter()
            .map(|member| {
                let failure = |error| MemberFailure {
                    slug: member.server.clone(),
                    error: Box::new(error),
                };
                let route = config
                    .route_by_slug(&member.server)
                    .ok_or_else(|| failure(GatewayError::UnknownServer(member.server.clone())))?;
                crate::access::allows(
                    &config,
                    &self.principal.key_id,
                    &self.principal.key,
                    route,
                    now,
                )
                .map_err(|denial| {
                    failure(
                        crate::admission::RouteError::Denied {
                            slug: member.server.clone(),
                            denial,
                        }
                        .into(),
                    )
                })?;
                let workspace = self
                    .principal
                    .key
                    .workspace
                    .and_then(|w| config.workspace(&w));
                let tools = match workspace {
                    Some(w) => crate::admission::limited_tools(route, w, self.principal),
                    None => route.tools.clone(),
                };
                Ok(Reached {
                    route: route.clone(),
                    tools,
                })
            })
            .collect()
    }

    /// Asks `member` one request, in a member session of its own in the session era.
    pub(super) async fn ask_member(
        &self,
        member: &Route,
        id: &str,
        method: &str,
        params: Value,
        name: Option<&str>,
    ) -> Result<Value, GatewayError> {
        // The member's own limits count what reaches it through the virtual server too.
        let _admitted = if member.limits.is_empty() {
            None
        } else {
            let tool = (method == "tools/call").then(|| {
                params
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            });
            Some(crate::relay::limit::charge_one(
                &self.state.limiter,
                member,
                self.principal,
                None,
                tool,
                false,
            )?)
        };
        let session = self.member_session(member).await?;
        let asker = Asker {
            caller: Some(self.principal),
            era: self.era,
            protocol_version: self.protocol_version(),
            upstream_session: session.as_deref(),
            request_id: self.rid,
        };
        let asked = ask(
            &self.state.upstream,
            member,
            &asker,
            id,
            method,
            params,
            name,
        )
        .await;
        if asked.is_err()
            && let Some(key) = self.session_key(member)
        {
            // The member may have ended it: the next request opens another.
            self.state.virtual_state.sessions.invalidate(&key).await;
        }
        Ok(asked?.message)
    }

    pub(super) fn session_key(&self, member: &Route) -> Option<(String, ServerId, i64)> {
        let token = self.headers.get(MCP_SESSION_ID)?.to_str().ok()?;
        (self.era == Era::Sessions)
            .then(|| (token.to_owned(), member.id(), member.connection_version()))
    }

    /// The member session of this client session with `member` (session era), opened with
    /// `initialize` and `notifications/initialized` on first use.
    pub(super) async fn member_session(
        &self,
        member: &Route,
    ) -> Result<Option<Arc<str>>, GatewayError> {
        let Some(key) = self.session_key(member) else {
            return Ok(None);
        };
        let sessions = &self.state.virtual_state.sessions;
        if let Some(open) = sessions.get(&key).await {
            return Ok(Some(open));
        }
        // Two first requests at once may each open one; the later is kept.
        let opened = self.open_member_session(member).await?;
        sessions.insert(key, opened.clone()).await;
        Ok(Some(opened))
    }

    pub(super) async fn open_member_session(
        &self,
        member: &Route,
    ) -> Result<Arc<str>, GatewayError> {
        let asker = Asker {
            caller: Some(self.principal),
            era: Era::Sessions,
            protocol_version: self.protocol_version(),
            upstream_session: None,
            request_id: self.rid,
        };
        let params = json!({
            "protocolVersion": self.protocol_version(),
            "capabilities": {},
            "clientInfo": {"name": "mcpgw", "version": VERSION},
        });
        let answered = ask(
            &self.state.upstream,
            member,
            &asker,
            "mcpgw-member-init",
            "initialize",
            params,
            None,
        )
        .await?;
        let session = answered.session.unwrap_or_default();
        let asker = Asker {
            upstream_session: Some(&session).filter(|s| !s.is_empty()).map(String::as_str),
            ..asker
        };
        let headers = crate::relay::upstream::own_post_headers(asker.protocol_version);
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let sent = self
            .state
            .upstream
            .send(
                member,
                asker.caller,
                http::Method::POST,
                &headers,
                asker.upstream_session,
                self.rid,
                Some(bytes::Bytes::from_static(initialized.as_bytes())),
                &crate::observe::Observation::default(),
            )
            .await;
        if let Err(error) = sent {
            tracing::warn!(request_id = %self.rid, member = %member.slug(), %error, "a member refused notifications/initialized");
        }
        Ok(Arc::from(session))
    }

    /// Every item of one member's listing (all its pages), with the member's tool policy
    /// applied to tools (hidden ones left out, overrides shown).
    pub(super) async fn list_member(
        &self,
        member: &Reached,
        kind: Section,
    ) -> Result<Vec<Value>, GatewayError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let failed = |detail: String| GatewayError::UpstreamFailed {
            slug: member.route.slug().to_string(),
            detail,
        };
        for page in 0..MAX_PAGES {
            let params = match &cursor {
                Some(cursor) => json!({"cursor": cursor}),
                None => json!({}),
            };
            let id = format!("mcpgw-virtual-{page}");
            let answer = self
                .ask_member(&member.route, &id, kind.method(), params, None)
                .await?;
            let result = answer
                .get("result")
                .ok_or_else(|| failed(format!("its {} answered an error", kind.method())))?;
            let listed = result
                .get(kind.field())
                .and_then(Value::as_array)
                .ok_or_else(|| failed(format!("its {} answer is not a listing", kind.method())))?;
            items.extend(listed.iter().cloned());
            match result.get("nextCursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        if kind == Section::Tools {
            items = shown_tools(items, &member.tools);
        }
        Ok(items)
    }

    pub(super) fn listing_key(&self, kind: Section) -> ListingKey {
        (
            self.route.id(),
            self.route.server.version,
            self.principal.session_key(),
            kind,
        )
    }

    /// The merged listing this caller last had, if it is recent.
    pub(super) async fn kept_listing(&self, kind: Section) -> Option<Arc<Listing>> {
        let listings = &self.state.virtual_state.listings;
        listings.get(&self.listing_key(kind)).await
    }

    /// A merged listing asked of the members now, kept to route the caller's next calls.
    pub(super) async fn fresh_listing(&self, kind: Section) -> Result<Arc<Listing>, GatewayError> {
        let listing = Arc::new(self.listing(kind).await?);
        let listings = &self.state.virtual_state.listings;
        listings
            .insert(self.listing_key(kind), listing.clone())
            .await;
        Ok(listing)
    }

    /// Every member's listing of `kind`, merged: items by the names clients see, and the
    /// members that failed (open) — or the first closed member's failure.
    pub(super) async fn listing(&self, kind: Section) -> Result<Listing, GatewayError> {
        let asked = join_all(self.members().into_iter().map(|member| async move {
            let reached = member?;
            let items = self
                .list_member(&reached, kind)
                .await
                .map_err(|error| MemberFailure {
                    slug: reached.route.slug().to_string(),
                    error: Box::new(error),
                })?;
            Ok::<_, MemberFailure>((reached.route.id(), items))
        }))
        .await;
        let mut slugs = Vec::new();
        let mut listed = Vec::new();
        let mut failed = Vec::new();
        let mut ids = Vec::new();
        for (member, result) in self.members.members.iter().zip(asked) {
            match result {
                Ok((member_id, items)) => {
                    slugs.push(member.server.clone());
                    listed.push(items);
                    ids.push(member_id);
                }
                Err(failure) => {
                    // Signing in and waiting are the caller's to do, whatever the failure mode.
                    if is_callers(&failure.error) {
                        return Err(*failure.error);
                    }
                    if member.on_failure == FailureMode::Closed {
                        return Err(GatewayError::MemberFailed {
                            slug: self.route.slug().to_string(),
                            member: failure.slug,
                            error: failure.error,
                        });
                    }
                    tracing::warn!(
                        request_id = %self.rid,
                        server = %self.route.slug(),
                        member = %failure.slug,
                        error = %failure.error,
                        "a virtual server's member failed; answering with the others (on_failure: open)"
                    );
                    failed.push(json!({"server": failure.slug, "reason": failure.error.reason(), "error": failure.error.to_string()}));
                }
            }
        }
        Ok(Listing::merge(
            kind,
            &slugs,
            listed,
            ids,
            self.members,
            self.tools,
            failed,
        ))
    }
}
