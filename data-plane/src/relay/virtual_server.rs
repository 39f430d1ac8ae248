//! Virtual servers: one slug that answers as an MCP server itself, with the tools, prompts and
//! resources of its member servers. Listings fan out to every member at once and merge (names
//! prefixed as the virtual server's `prefix` says); a call goes to the member that listed the
//! name, by the member's own name. Each member is reached as the caller, with its own upstream
//! auth (per-user OAuth included) and its own tool policy, limited by the caller's workspace
//! and grants.
//!
//! A member that fails a listing fails the request when it is `on_failure: closed`; when it is
//! `open`, the others' answer stands, and the failing member is named in the log and in the
//! result's `_meta["io.mcpgw/failed_members"]`.
//!
//! In the session era the gateway holds the client's session itself (a sealed token with no
//! upstream session, so any pod serves it). Each pod opens its own session with each member on
//! first use, kept for the client's session: a changed member set is picked up on the next
//! request, and the session's GET stream (the gateway's own) hears `list_changed`. Members'
//! own notifications and requests to the client, and progress events of a call, are not
//! relayed: a call's answer is read whole.

mod names;

use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use futures::future::join_all;
use http::{HeaderMap, StatusCode, header};
use mcpgw_shared::model::{FailureMode, VirtualServer};
use mcpgw_shared::request_id::RequestId;
use mcpgw_shared::{ServerId, version::VERSION};
use serde_json::{Value, json};

use super::RelayState;
use super::ask::{Asker, ask};
use crate::admission::{MCP_SESSION_ID, Principal};
use crate::errors::GatewayError;
use crate::protocol::era::{self, Era};
use crate::protocol::message::{Kind, Message};
use crate::session::{SessionClaims, SessionSealer};
use crate::snapshot::{Route, ToolAnnotations, ToolPolicy};
use names::{Exposed, expose};

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
/// The key in a result's `_meta` naming members that failed.
pub const FAILED_MEMBERS: &str = "io.mcpgw/failed_members";

/// What a listing lists, and under which field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Section {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl Section {
    fn of(method: &str) -> Option<Self> {
        Some(match method {
            "tools/list" => Self::Tools,
            "prompts/list" => Self::Prompts,
            "resources/list" => Self::Resources,
            "resources/templates/list" => Self::Templates,
            _ => return None,
        })
    }

    fn method(self) -> &'static str {
        match self {
            Self::Tools => "tools/list",
            Self::Prompts => "prompts/list",
            Self::Resources => "resources/list",
            Self::Templates => "resources/templates/list",
        }
    }

    fn field(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Prompts => "prompts",
            Self::Resources => "resources",
            Self::Templates => "resourceTemplates",
        }
    }

    /// The field that names an item: renamed with prefixes for tools and prompts, matched as
    /// it is for resources.
    fn key(self) -> &'static str {
        match self {
            Self::Tools | Self::Prompts => "name",
            Self::Resources => "uri",
            Self::Templates => "uriTemplate",
        }
    }

    fn prefixed(self) -> bool {
        matches!(self, Self::Tools | Self::Prompts)
    }
}

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

/// One request to a virtual server, and who makes it.
pub(super) struct Call<'a> {
    pub state: &'a RelayState,
    pub rid: &'a RequestId,
    pub principal: &'a Principal,
    pub route: &'a Arc<Route>,
    pub members: &'a VirtualServer,
    /// The virtual server's own tool policy, limited by the caller's workspace and grants.
    pub tools: &'a ToolPolicy,
    pub era: Era,
    pub claims: Option<&'a SessionClaims>,
    pub headers: &'a HeaderMap,
    /// The request as JSON.
    pub body: &'a Value,
}

/// A member as a request reaches it.
struct Reached {
    route: Arc<Route>,
    /// Its tool policy for this caller.
    tools: Arc<ToolPolicy>,
}

/// A member's failure, as the request or `_meta` reports it.
struct MemberFailure {
    slug: String,
    error: Box<GatewayError>,
}

impl Call<'_> {
    fn protocol_version(&self) -> &str {
        match (self.claims, self.era) {
            (Some(claims), _) => claims.protocol_version.as_str(),
            (None, Era::Stateless) => era::MODERN,
            (None, Era::Sessions) => era::DEFAULT_LEGACY,
        }
    }

    /// The members, as this caller reaches them; a member that no longer exists or that the
    /// caller may not use is a failing member.
    fn members(&self) -> Vec<Result<Reached, MemberFailure>> {
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
    async fn ask_member(
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
            Some(super::limit::charge_one(
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
            user: self.principal.key.user.as_deref(),
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

    fn session_key(&self, member: &Route) -> Option<(String, ServerId, i64)> {
        let token = self.headers.get(MCP_SESSION_ID)?.to_str().ok()?;
        (self.era == Era::Sessions)
            .then(|| (token.to_owned(), member.id(), member.connection_version()))
    }

    /// The member session of this client session with `member` (session era), opened with
    /// `initialize` and `notifications/initialized` on first use.
    async fn member_session(&self, member: &Route) -> Result<Option<Arc<str>>, GatewayError> {
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

    async fn open_member_session(&self, member: &Route) -> Result<Arc<str>, GatewayError> {
        let asker = Asker {
            user: self.principal.key.user.as_deref(),
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
        let headers = super::upstream::own_post_headers(asker.protocol_version);
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let sent = self
            .state
            .upstream
            .send(
                member,
                asker.user,
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
    async fn list_member(
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

    fn listing_key(&self, kind: Section) -> ListingKey {
        (
            self.route.id(),
            self.route.server.version,
            self.principal.session_key(),
            kind,
        )
    }

    /// The merged listing this caller last had, if it is recent.
    async fn kept_listing(&self, kind: Section) -> Option<Arc<Listing>> {
        let listings = &self.state.virtual_state.listings;
        listings.get(&self.listing_key(kind)).await
    }

    /// A merged listing asked of the members now, kept to route the caller's next calls.
    async fn fresh_listing(&self, kind: Section) -> Result<Arc<Listing>, GatewayError> {
        let listing = Arc::new(self.listing(kind).await?);
        let listings = &self.state.virtual_state.listings;
        listings
            .insert(self.listing_key(kind), listing.clone())
            .await;
        Ok(listing)
    }

    /// Every member's listing of `kind`, merged: items by the names clients see, and the
    /// members that failed (open) — or the first closed member's failure.
    async fn listing(&self, kind: Section) -> Result<Listing, GatewayError> {
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

/// A merged listing.
struct Listing {
    /// The items as clients see them.
    items: Vec<Value>,
    /// Where each comes from: the name and the member's id.
    origins: Vec<(Exposed, ServerId)>,
    /// Members that failed (open).
    failed: Vec<Value>,
}

impl Listing {
    fn merge(
        kind: Section,
        slugs: &[String],
        listed: Vec<Vec<Value>>,
        ids: Vec<ServerId>,
        members: &VirtualServer,
        tools: &ToolPolicy,
        failed: Vec<Value>,
    ) -> Self {
        let key = kind.key();
        let names: Vec<Vec<String>> = listed
            .iter()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get(key).and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .collect();
        let slugs: Vec<&str> = slugs.iter().map(String::as_str).collect();
        let mode = if kind.prefixed() {
            members.prefix
        } else {
            mcpgw_shared::model::PrefixMode::Never
        };
        let mut items = Vec::new();
        let mut origins = Vec::new();
        for exposed in expose(&slugs, &names, mode) {
            if kind == Section::Tools && !tools.permits(&exposed.name) {
                continue;
            }
            let Some(mut item) = listed[exposed.member]
                .iter()
                .find(|i| i.get(key).and_then(Value::as_str) == Some(exposed.original.as_str()))
                .cloned()
            else {
                continue;
            };
            item[key] = json!(exposed.name);
            items.push(item);
            let member = ids[exposed.member];
            origins.push((exposed, member));
        }
        Self {
            items,
            origins,
            failed,
        }
    }

    /// The member's id and its own name of the item clients call `name`.
    fn origin(&self, name: &str) -> Option<(&Exposed, ServerId)> {
        self.origins
            .iter()
            .find(|(e, _)| e.name == name)
            .map(|(e, id)| (e, *id))
    }
}

/// Tools of a member listing as its policy shows them: hidden ones left out, overridden
/// names and descriptions shown; the upstream's name is kept in `_meta` for the call.
fn shown_tools(items: Vec<Value>, policy: &ToolPolicy) -> Vec<Value> {
    items
        .into_iter()
        .filter_map(|mut tool| {
            let name = tool.get("name")?.as_str()?.to_owned();
            let annotations: ToolAnnotations = tool
                .get("annotations")
                .and_then(|a| serde_json::from_value(a.clone()).ok())
                .unwrap_or_default();
            if !policy.permits(&name)
                || policy.shadowed(&name)
                || policy.admits(&annotations).is_err()
            {
                return None;
            }
            if let Some(shown) = policy.presentation(&name) {
                if let Some(new_name) = &shown.name {
                    tool["name"] = json!(new_name);
                }
                if let Some(description) = &shown.description {
                    tool["description"] = json!(description);
                }
            }
            Some(tool)
        })
        .collect()
}

/// Whether a member's error is the caller's to act on (sign in, or wait for a limit), and so
/// is answered as it is rather than as the member's failure.
fn is_callers(error: &GatewayError) -> bool {
    matches!(
        error,
        GatewayError::SignInRequired { .. } | GatewayError::RateLimited { .. }
    )
}

/// The capabilities a virtual server declares.
fn capabilities() -> Value {
    json!({
        "tools": {"listChanged": true},
        "prompts": {"listChanged": true},
        "resources": {"listChanged": true},
    })
}

fn server_info(route: &Route) -> Value {
    json!({"name": route.slug().as_str(), "title": route.server.name, "version": VERSION})
}

/// A JSON answer.
fn answer(message: Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        message.to_string(),
    )
        .into_response()
}

/// A result for `message`, marked complete in the 2026-07-28 era.
fn result(call: &Call<'_>, message: &Message, mut result: Value) -> Response {
    if call.era == Era::Stateless {
        result["resultType"] = json!("complete");
    }
    answer(json!({"jsonrpc": "2.0", "id": message.raw_id(), "result": result}))
}

/// A JSON-RPC error for `message` (HTTP 404 for an unknown method in the 2026-07-28 era).
fn rpc_error(call: &Call<'_>, message: &Message, code: i64, text: String) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": message.raw_id(), "error": {"code": code, "message": text, "data": {"request_id": call.rid.as_str()}}});
    let status = if call.era == Era::Stateless && code == -32601 {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Answers one POSTed message to a virtual server.
pub(super) async fn post(call: Call<'_>, message: &Message) -> Result<Response, GatewayError> {
    if message.kind != Kind::Request {
        // Notifications and answers are the gateway's own business with the client.
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let method = message.method.as_deref().unwrap_or_default();
    match method {
        "initialize" if call.era == Era::Sessions => Ok(initialize(&call, message)),
        "server/discover" if call.era == Era::Stateless => Ok(result(
            &call,
            message,
            json!({
                "supportedVersions": era::STATELESS_VERSIONS,
                "capabilities": capabilities(),
                "cacheScope": "private",
                "ttlMs": 0,
                "_meta": {"io.modelcontextprotocol/serverInfo": server_info(call.route)},
            }),
        )),
        "ping" => Ok(result(&call, message, json!({}))),
        _ => match Section::of(method) {
            Some(kind) => {
                let listing = call.fresh_listing(kind).await?;
                let mut listed = json!({ kind.field(): listing.items.clone() });
                if call.era == Era::Stateless {
                    listed["cacheScope"] = json!("private");
                    listed["ttlMs"] = json!(0);
                }
                if !listing.failed.is_empty() {
                    listed["_meta"] = json!({ FAILED_MEMBERS: listing.failed.clone() });
                }
                Ok(result(&call, message, listed))
            }
            None => forward(&call, message, method).await,
        },
    }
}

/// `tools/call`, `prompts/get` and `resources/read`: to the member that listed the name.
async fn forward(
    call: &Call<'_>,
    message: &Message,
    method: &str,
) -> Result<Response, GatewayError> {
    let kind = match method {
        "tools/call" => Section::Tools,
        "prompts/get" => Section::Prompts,
        "resources/read" => Section::Resources,
        other => {
            return Ok(rpc_error(
                call,
                message,
                -32601,
                format!(
                    "Method not found: {other} (virtual server `{}` offers tools, prompts and resources)",
                    call.route.slug()
                ),
            ));
        }
    };
    let params = match call.body.get("params") {
        Some(params @ Value::Object(_)) => params.clone(),
        _ => json!({}),
    };
    let wanted = params
        .get(kind.key())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // The member that listed the name, as the caller reaches it now.
    let reachable = |listing: &Listing| {
        let (exposed, id) = listing.origin(&wanted)?;
        let reached = call
            .members()
            .into_iter()
            .flatten()
            .find(|m| m.route.id() == id)?;
        Some((exposed.clone(), reached))
    };
    // A name the kept listing lacks may be new: the members are asked again.
    let found = match call.kept_listing(kind).await.and_then(|l| reachable(&l)) {
        Some(found) => Some(found),
        None => reachable(&*call.fresh_listing(kind).await?),
    };
    let Some((exposed, reached)) = found else {
        let what = match kind {
            Section::Tools => "Unknown tool",
            Section::Prompts => "Unknown prompt",
            _ => "Unknown resource",
        };
        return Ok(rpc_error(
            call,
            message,
            -32602,
            format!(
                "{what}: {wanted} (no member of virtual server `{}` offers it)",
                call.route.slug()
            ),
        ));
    };
    // The member's own name for it, through its policy's overrides.
    let own = match kind {
        Section::Tools => reached
            .tools
            .resolve(&exposed.original)
            .map(str::to_owned)
            .unwrap_or_else(|_| exposed.original.clone()),
        _ => exposed.original.clone(),
    };
    let mut params = params;
    params[kind.key()] = json!(own);
    if let Some(meta) = params.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.retain(|k, _| !k.starts_with("io.modelcontextprotocol/"));
    }
    let name = (call.era == Era::Stateless).then_some(own.as_str());
    let answered = call
        .ask_member(&reached.route, "mcpgw-virtual-call", method, params, name)
        .await
        .map_err(|error| match error {
            error if is_callers(&error) => error,
            error => GatewayError::MemberFailed {
                slug: call.route.slug().to_string(),
                member: reached.route.slug().to_string(),
                error: Box::new(error),
            },
        })?;
    let mut reply = answered;
    reply["id"] = serde_json::to_value(message.raw_id()).unwrap_or(Value::Null);
    Ok(answer(reply))
}

/// `initialize` (session era): the gateway's own session, sealed, with no upstream session.
fn initialize(call: &Call<'_>, message: &Message) -> Response {
    let requested = message.protocol_version.as_deref().unwrap_or_default();
    let version = if era::SESSION_VERSIONS.contains(&requested) {
        requested
    } else {
        era::SESSION_VERSIONS[era::SESSION_VERSIONS.len() - 1]
    };
    let mut claims = SessionSealer::claims(
        call.route.connection_version(),
        version,
        &call.principal.session_key(),
        None,
    );
    // A member's sign-in is then asked for as a URL elicitation.
    claims.url_elicitation = message.url_elicitation;
    let token = call.state.sealer.seal(&call.route.id(), &claims);
    let mut response = result(
        call,
        message,
        json!({
            "protocolVersion": version,
            "capabilities": capabilities(),
            "serverInfo": server_info(call.route),
            "instructions": call.route.server.description,
        }),
    );
    if let Ok(value) = http::HeaderValue::from_str(&token) {
        response.headers_mut().insert(MCP_SESSION_ID, value);
    }
    response
}

/// The session's GET stream (session era): the gateway's own, carrying `list_changed` when the
/// members or their tools change, and keep-alive comments; it ends when enforcement closes it
/// or the pod drains.
pub(super) fn listen(
    state: &RelayState,
    principal: &Principal,
    route: &Route,
) -> Result<Response, GatewayError> {
    state
        .streams
        .admit(&principal.key_id, state.limits.max_streams_per_key)?;
    let guard = state.streams.register_for(
        &principal.key_id,
        principal.external.then(|| principal.key.clone()),
        &route.id(),
        route.connection_version(),
        true,
    );
    let (keep_alive, drain) = (state.keep_alive, state.drain.clone());
    let events = futures::stream::unfold((guard, drain), move |(mut guard, drain)| async move {
        let closed = guard.closed();
        let event = tokio::select! {
            event = guard.injected() => event,
            () = tokio::time::sleep(keep_alive) => bytes::Bytes::from_static(super::sse::KEEP_ALIVE),
            () = closed => return None,
            () = drain.ended(crate::drain::StreamKind::Listen) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(event), (guard, drain)))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        axum::body::Body::from_stream(events),
    )
        .into_response())
}
