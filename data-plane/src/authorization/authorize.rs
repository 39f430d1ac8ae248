//! The authorization endpoint and its two pages. `GET /oauth/authorize` checks the request
//! (the client and its exact redirect URI first: until both are known, errors are shown, never
//! redirected), then shows the sign-in page — a user API key of the user's workspace — or, for
//! a user signed in already, the consent page naming the client, the server, the scopes and
//! where the browser goes next. Allowing asks the control plane for a single-use code and sends
//! the browser back with it, `state` and `iss` (RFC 9207).
//!
//! The checked request travels sealed in the forms (it cannot be altered), bound to a nonce in
//! the `__Host-mcpgw-csrf` cookie (a form posted from another site carries another nonce or
//! none); who signed in is kept sealed in `__Host-mcpgw-user`. The pages cannot be framed.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use mcpgw_shared::model::{KeyType, UpstreamAuth};
use mcpgw_shared::proto::IssueCodeRequest;
use mcpgw_shared::{ApiKeyId, WorkspaceId};
use serde::{Deserialize, Serialize};
use url::Url;

use super::form::read_form;
use super::identity_provider;
use super::{AuthorizationServer, CONSENT_PATH, CONTINUE_PATH, SIGN_IN_PATH, clients};
use crate::access;
use crate::admission::scope::{self, Scopes};
use crate::admission::{external, identify};
use crate::pages::{escape, html, page};
use crate::snapshot::Config;

/// The cookie holding the nonce the forms' sealed request is bound to.
const CSRF_COOKIE: &str = "__Host-mcpgw-csrf";
/// The cookie holding who signed in.
const USER_COOKIE: &str = "__Host-mcpgw-user";
/// How long a user stays signed in to the gateway's pages.
pub(super) const SIGNED_IN_FOR_SECS: i64 = 8 * 3600;
/// How long an authorization request may wait on its pages.
const REQUEST_VALID_SECS: i64 = 15 * 60;
/// The sealing contexts.
const PENDING: &str = "authorization request";
const SIGNED_IN: &str = "signed-in user";
const RESUME: &str = "consented request";

/// A checked authorization request, sealed into the pages' forms.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Pending {
    client_id: String,
    client_name: Option<String>,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    code_challenge: String,
    resource: String,
    pub(super) slug: String,
    exp: i64,
    /// What the CSRF cookie must hold.
    nonce: String,
}

/// A consented request waiting for the user's upstream sign-in, sealed into the link back.
#[derive(Debug, Serialize, Deserialize)]
struct Resume {
    pending: Pending,
    user: SignedIn,
    exp: i64,
}

/// Who signed in: on the gateway's page with a user API key, or at the workspace's identity
/// provider (no key).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SignedIn {
    pub(super) key: Option<ApiKeyId>,
    pub(super) workspace: WorkspaceId,
    pub(super) user: String,
    pub(super) exp: i64,
}

/// A refusal shown on a page (no redirect: the redirect URI is not trusted yet).
pub(super) fn shown(text: impl Into<String>) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "This sign-in request cannot be used",
        &text.into(),
    )
}

/// A refusal sent back to the client at its redirect URI (RFC 6749 §4.1.2.1).
fn sent_back(
    server: &AuthorizationServer,
    redirect_uri: &str,
    state: Option<&str>,
    params: &[(&str, &str)],
) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return shown("the redirect URI is not a URL");
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", server.issuer());
    }
    let mut response = Redirect::to(url.as_str()).into_response();
    crate::pages::no_store(&mut response);
    response
}

/// The value of cookie `name`.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A `__Host-` cookie: secure, host-only, whole site, not readable by scripts.
fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: i64) {
    let cookie =
        format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The query's parameters; a repeated one is refused (RFC 6749 §3.1).
pub(super) fn parameters(query: Option<&str>) -> Result<HashMap<String, String>, String> {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if fields
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(format!("the parameter `{name}` is repeated"));
        }
    }
    Ok(fields)
}

/// `GET /oauth/authorize`.
pub async fn start(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match parameters(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return shown(why),
    };
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let Some(client_id) = param("client_id") else {
        return shown("the request names no client_id: start again from your MCP client");
    };
    let inner = &server.inner;
    let client = match clients::find(&inner.sync, &inner.documents, client_id).await {
        Ok(client) => client,
        Err(why) => return shown(why),
    };
    let redirect_uri = match client.redirect_uri(param("redirect_uri")) {
        Ok(uri) => uri,
        Err(why) => return shown(why),
    };
    // From here on the client hears of every refusal at its redirect URI.
    let state = param("state");
    let refuse = |error: &str, description: &str| {
        sent_back(
            &server,
            &redirect_uri,
            state,
            &[("error", error), ("error_description", description)],
        )
    };
    if param("response_type") != Some("code") {
        return refuse(
            "unsupported_response_type",
            "only the authorization code flow (`response_type=code`) is supported",
        );
    }
    let challenge = param("code_challenge").filter(|c| {
        c.len() == 43
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if param("code_challenge_method") != Some("S256") || challenge.is_none() {
        return refuse(
            "invalid_request",
            "PKCE is required: send code_challenge (43 base64url characters) with code_challenge_method=S256",
        );
    }
    let config = inner.store.load();
    let Some(resource) = param("resource") else {
        return refuse(
            "invalid_target",
            "name the MCP server in `resource` (RFC 8707): its URL, <gateway>/<slug>/mcp",
        );
    };
    let Some(slug) = resource
        .strip_prefix(&inner.root)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_suffix("/mcp"))
        .filter(|slug| config.route_by_slug(slug).is_some())
    else {
        return refuse(
            "invalid_target",
            &format!(
                "`{}` is not the URL of an MCP server of this gateway ({}/<slug>/mcp)",
                resource.chars().take(200).collect::<String>(),
                inner.root
            ),
        );
    };
    let requested = param("scope").unwrap_or(scope::CHALLENGE);
    let granted: Vec<&str> = requested
        .split_ascii_whitespace()
        .filter(|s| scope::SUPPORTED.contains(s))
        .collect();
    if granted.is_empty() {
        return refuse(
            "invalid_scope",
            &format!("ask for one of the scopes {}", scope::SUPPORTED.join(", ")),
        );
    }
    let nonce = cookie(&headers, CSRF_COOKIE)
        .filter(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    let fresh_nonce = nonce.is_none();
    let pending = Pending {
        client_id: client.id.clone(),
        client_name: client.name.clone(),
        redirect_uri: redirect_uri.clone(),
        scope: granted.join(" "),
        state: state.map(str::to_owned),
        code_challenge: challenge.expect("checked above").to_owned(),
        resource: resource.to_owned(),
        slug: slug.to_owned(),
        exp: Utc::now().timestamp() + REQUEST_VALID_SECS,
        nonce: nonce.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
    };
    let signed_in = signed_in(&server, &config, &headers, &pending);
    let mut response = match (signed_in, identity_provider::provider_for(&config, slug)) {
        (Some(user), _) => consent_page(&server, &config, &pending, &user),
        (None, Some((workspace, provider))) => {
            let nonce = pending.nonce.clone();
            let mut response =
                identity_provider::begin(&server, &workspace, &provider, pending).await;
            if fresh_nonce {
                set_cookie(&mut response, CSRF_COOKIE, &nonce, REQUEST_VALID_SECS);
            }
            return response;
        }
        (None, None) => sign_in_page(&server, &config, &pending, None),
    };
    if fresh_nonce {
        set_cookie(
            &mut response,
            CSRF_COOKIE,
            &pending.nonce,
            REQUEST_VALID_SECS,
        );
    }
    response
}

/// The user signed in on this browser, if their key still works and lets them use the server.
fn signed_in(
    server: &AuthorizationServer,
    config: &Config,
    headers: &HeaderMap,
    pending: &Pending,
) -> Option<SignedIn> {
    let user: SignedIn = server
        .inner
        .sealer
        .open(cookie(headers, USER_COOKIE)?, SIGNED_IN)?;
    (user.exp >= Utc::now().timestamp() && may_use(config, &user, &pending.slug).is_ok())
        .then_some(user)
}

/// Whether `user` may use the server at `slug` now: their key (if they signed in with one) is
/// still usable, and the access rule and grants let them.
pub(super) fn may_use(config: &Config, user: &SignedIn, slug: &str) -> Result<(), String> {
    let now = Utc::now();
    let route = config
        .route_by_slug(slug)
        .ok_or_else(|| format!("the server `{slug}` is gone"))?;
    let denied = |denial| format!("you may not use `{slug}`: {denial}");
    match &user.key {
        Some(key_id) => {
            let key = config
                .api_key(key_id)
                .ok_or("the key you signed in with is gone: sign in again")?;
            access::allows(config, key_id, key, route, now).map_err(denied)
        }
        None => {
            let workspace = config
                .workspace(&user.workspace)
                .ok_or("your workspace is gone")?;
            let principal = external::principal(workspace, &user.user, None);
            access::allows(config, &principal.key_id, &principal.key, route, now).map_err(denied)
        }
    }
}

/// Remembers who signed in on this browser (`__Host-mcpgw-user`).
pub(super) fn remember(server: &AuthorizationServer, response: &mut Response, user: &SignedIn) {
    let sealed = server.inner.sealer.seal(user, SIGNED_IN);
    set_cookie(response, USER_COOKIE, &sealed, SIGNED_IN_FOR_SECS);
}

/// The sealed request of a posted form, if it is whole, fresh, and bound to this browser.
fn pending_of(
    server: &AuthorizationServer,
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
) -> Result<Pending, Box<Response>> {
    let pending: Pending = fields
        .get("request")
        .and_then(|text| server.inner.sealer.open(text, PENDING))
        .ok_or_else(|| {
            Box::new(shown(
                "the form is not one this gateway made: start again from your MCP client",
            ))
        })?;
    if pending.exp < Utc::now().timestamp() {
        return Err(Box::new(shown(
            "this sign-in request has expired: start again from your MCP client",
        )));
    }
    if cookie(headers, CSRF_COOKIE) != Some(pending.nonce.as_str()) {
        return Err(Box::new(page(
            StatusCode::FORBIDDEN,
            "This form was not sent from this browser's sign-in",
            "The request was refused to protect you (its CSRF cookie does not match). Start again from your MCP client.",
        )));
    }
    Ok(pending)
}

/// A posted form of the pages, and the sealed request it carries (see [`pending_of`]).
async fn posted(
    server: &AuthorizationServer,
    headers: &HeaderMap,
    body: Body,
) -> Result<(HashMap<String, String>, Pending), Box<Response>> {
    let fields = read_form(body).await.map_err(|why| Box::new(shown(why)))?;
    let pending = pending_of(server, headers, &fields)?;
    Ok((fields, pending))
}

/// `POST /oauth/sign-in`: checks the user API key, remembers the user, shows the consent page.
pub async fn sign_in(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (fields, pending) = match posted(&server, &headers, body).await {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let config = server.inner.store.load();
    let key = fields.get("api_key").map(|k| k.trim()).unwrap_or_default();
    let user = match user_of_key(&config, key, &pending.slug) {
        Ok(user) => user,
        Err(why) => return sign_in_page(&server, &config, &pending, Some(&why)),
    };
    let mut response = consent_page(&server, &config, &pending, &user);
    remember(&server, &mut response, &user);
    response
}

/// Who the user API key `key` signs in, if it may use the server at `slug`.
fn user_of_key(config: &Config, key: &str, slug: &str) -> Result<SignedIn, String> {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| "that is not an API key".to_owned())?;
    headers.insert(header::AUTHORIZATION, value);
    let principal = identify(config, &headers).map_err(|_| {
        "that key is not valid: paste the whole key, mcpgw_<id>_<secret>".to_owned()
    })?;
    let (KeyType::User, Some(user), Some(workspace)) = (
        principal.key.key_type,
        principal.key.user.as_deref(),
        principal.key.workspace,
    ) else {
        return Err(
            "that is a service key: sign in with a user API key (one issued to you, with a user_id)"
                .into(),
        );
    };
    let route = config
        .route_by_slug(slug)
        .ok_or_else(|| format!("the server `{slug}` is gone"))?;
    access::allows(config, &principal.key_id, &principal.key, route, Utc::now())
        .map_err(|denial| format!("that key may not use `{slug}`: {denial}"))?;
    Ok(SignedIn {
        key: Some(principal.key_id),
        workspace,
        user: user.to_owned(),
        exp: Utc::now().timestamp() + SIGNED_IN_FOR_SECS,
    })
}

/// `POST /oauth/consent`: allow (a code for the client) or deny (`access_denied`).
pub async fn consent(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (fields, pending) = match posted(&server, &headers, body).await {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let config = server.inner.store.load();
    let Some(user) = signed_in(&server, &config, &headers, &pending) else {
        return sign_in_page(
            &server,
            &config,
            &pending,
            Some(
                "sign in again: your sign-in ended, or your key no longer lets you use this server",
            ),
        );
    };
    let state = pending.state.as_deref();
    if fields.get("decision").map(String::as_str) != Some("allow") {
        return sent_back(
            &server,
            &pending.redirect_uri,
            state,
            &[
                ("error", "access_denied"),
                ("error_description", "the user denied the request"),
            ],
        );
    }
    let Some(route) = config.route_by_slug(&pending.slug) else {
        return shown(format!("the server `{}` is gone", pending.slug));
    };
    // A server whose upstream needs the user's own sign-in: the browser goes there first, and
    // comes back to finish this one.
    if let Some(sign_in) = server.inner.upstream_sign_in.get()
        && matches!(route.server.auth, UpstreamAuth::Oauth2 { .. })
        && !sign_in.connected(route, &user.user).await
    {
        let resume = Resume {
            pending,
            user,
            exp: Utc::now().timestamp() + REQUEST_VALID_SECS,
        };
        let then = format!(
            "{}?c={}",
            server.at(CONTINUE_PATH),
            server.inner.sealer.seal(&resume, RESUME)
        );
        let link = sign_in.link_then(route, &resume.user.user, then).await;
        let mut response = Redirect::to(&link.url).into_response();
        crate::pages::no_store(&mut response);
        return response;
    }
    issue(&server, &config, &pending, &user).await
}

/// `GET /oauth/consent/continue?c=…`: back from the upstream's sign-in, the client's sign-in
/// finishes (the user allowed it before leaving).
pub async fn resume(
    State(server): State<AuthorizationServer>,
    RawQuery(query): RawQuery,
) -> Response {
    let resume: Option<Resume> = parameters(query.as_deref())
        .ok()
        .and_then(|p| p.get("c").cloned())
        .and_then(|c| server.inner.sealer.open(&c, RESUME));
    let Some(resume) = resume.filter(|r| r.exp >= Utc::now().timestamp()) else {
        return shown("this link is not valid or has expired: start again from your MCP client");
    };
    let config = server.inner.store.load();
    issue(&server, &config, &resume.pending, &resume.user).await
}

/// Asks the control plane for a code and sends the browser back to the client with it.
async fn issue(
    server: &AuthorizationServer,
    config: &Config,
    pending: &Pending,
    user: &SignedIn,
) -> Response {
    let state = pending.state.as_deref();
    let Some(route) = config.route_by_slug(&pending.slug) else {
        return shown(format!("the server `{}` is gone", pending.slug));
    };
    let request = IssueCodeRequest {
        client_id: pending.client_id.clone(),
        user_id: user.user.clone(),
        workspace_id: user.workspace.to_string(),
        server_id: route.id().to_string(),
        resource: pending.resource.clone(),
        scope: pending.scope.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        issuer: server.issuer().to_owned(),
    };
    match server.inner.sync.issue_code(request).await {
        Ok(issued) => sent_back(
            server,
            &pending.redirect_uri,
            state,
            &[("code", issued.code.as_str())],
        ),
        Err(error) => {
            tracing::warn!(%error, "the control plane refused or missed an authorization code");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The gateway could not finish the sign-in",
                &format!("{error}. Go back and try again in a moment."),
            )
        }
    }
}

/// The hidden field carrying the sealed request.
fn request_field(server: &AuthorizationServer, pending: &Pending) -> String {
    format!(
        "<input type=\"hidden\" name=\"request\" value=\"{}\">",
        escape(&server.inner.sealer.seal(pending, PENDING))
    )
}

/// The name of the server at `slug`, for the pages.
fn server_name(config: &Config, slug: &str) -> String {
    config
        .route_by_slug(slug)
        .map_or_else(|| slug.to_owned(), |r| r.server.name.clone())
}

/// The page asking for a user API key.
fn sign_in_page(
    server: &AuthorizationServer,
    config: &Config,
    pending: &Pending,
    error: Option<&str>,
) -> Response {
    let said = error.map_or_else(String::new, |e| {
        format!("<p role=\"alert\" style=\"color:#a00\">{}</p>", escape(e))
    });
    let body = format!(
        "<p>An application wants to use <b>{server_name}</b> through this MCP gateway on your behalf. \
         Sign in with a <b>user API key</b> of your workspace (<code>mcpgw_…</code>; an administrator issues one with your user id).</p>\
         {said}<form method=\"post\" action=\"{SIGN_IN_PATH}\">{request}\
         <p><label>User API key <input type=\"password\" name=\"api_key\" autocomplete=\"off\" required size=\"60\"></label></p>\
         <p><button type=\"submit\">Sign in</button></p></form>",
        server_name = escape(&server_name(config, &pending.slug)),
        request = request_field(server, pending),
    );
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    html(status, "Sign in to the MCP gateway", &body)
}

/// The page asking the user to allow the client.
pub(super) fn consent_page(
    server: &AuthorizationServer,
    config: &Config,
    pending: &Pending,
    user: &SignedIn,
) -> Response {
    let redirect_host = Url::parse(&pending.redirect_uri)
        .ok()
        .map(|u| {
            u.host_str()
                .map_or_else(|| format!("{}:", u.scheme()), str::to_owned)
        })
        .unwrap_or_default();
    let client = match &pending.client_name {
        Some(name) => format!(
            "<b>{}</b> (<code>{}</code>)",
            escape(name),
            escape(&pending.client_id)
        ),
        None => format!("<b><code>{}</code></b>", escape(&pending.client_id)),
    };
    let scopes = Scopes::parse(&pending.scope);
    let mut can = Vec::new();
    if scopes.lacks("tools/list").is_none() {
        can.push("see the server's tools, prompts and resources");
    }
    if scopes.lacks("tools/call").is_none() {
        can.push("call its tools as you");
    }
    let workspace = config
        .workspace(&user.workspace)
        .map_or_else(|| user.workspace.to_string(), |w| w.name.clone());
    let body = format!(
        "<p>{client} wants to use <b>{server_name}</b> (<code>{resource}</code>) as <b>{user}</b> of workspace <b>{workspace}</b>.</p>\
         <p>It will be able to: {can}. Scopes: <code>{scope}</code>.</p>\
         <p>If you allow it, your browser goes back to <b>{redirect_host}</b>. Allow only if you started this from an application you trust.</p>\
         <form method=\"post\" action=\"{CONSENT_PATH}\">{request}\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        server_name = escape(&server_name(config, &pending.slug)),
        resource = escape(&pending.resource),
        user = escape(&user.user),
        workspace = escape(&workspace),
        can = can.join(" and "),
        scope = escape(&pending.scope),
        redirect_host = escape(&redirect_host),
        request = request_field(server, pending),
    );
    html(StatusCode::OK, "Allow access?", &body)
}
