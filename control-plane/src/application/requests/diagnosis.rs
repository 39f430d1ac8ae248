//! What a support engineer would say about one request: its cause and the fix, from its
//! reason and from the configuration as it was and is (the key, the server, the changes the
//! server saw since the data plane answered).

use mcpgw_shared::{ApiKeyId, ServerId};

use super::super::{Caller, ServerVersion, Service, ServiceError};
use crate::store::request_log::StoredRequest;
use crate::store::{ApiKeyRow, ServerRow};

/// One record and what it means.
#[derive(Debug, Clone)]
pub struct RequestDiagnosis {
    /// The record.
    pub request: StoredRequest,
    /// Its cause and fix.
    pub diagnosis: Diagnosis,
    /// The configuration that applied, and what changed since.
    pub config: ConfigApplied,
}

/// The cause of a request's outcome and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// `ok`, `refused` (the gateway said no: 4xx) or `failed` (5xx).
    pub outcome: &'static str,
    /// What happened, in words.
    pub cause: String,
    /// What to do; empty when nothing is to be done.
    pub fix: String,
}

/// The configuration the data plane answered with.
#[derive(Debug, Clone)]
pub struct ConfigApplied {
    /// The sequence the data plane had applied.
    pub applied_seq: i64,
    /// The head of the log now.
    pub head_seq: i64,
    /// The server's version the data plane used.
    pub server_version: Option<i64>,
    /// The server's version now (`None`: deleted, or never known).
    pub current_server_version: Option<i64>,
    /// The server's versions after the one used, oldest first.
    pub server_changes_since: Vec<ServerVersion>,
}

impl Service {
    pub(super) async fn diagnose_request(
        &self,
        caller: &Caller,
        request: StoredRequest,
    ) -> Result<RequestDiagnosis, ServiceError> {
        let record = &request.record;
        let key = match record.key_id.as_deref().map(str::parse::<ApiKeyId>) {
            Some(Ok(id)) => self.api_key(caller, &id).await.ok(),
            _ => None,
        };
        let (server, history) = match record.server_id {
            Some(id) => (
                self.server(caller, &id).await.ok(),
                self.server_history(caller, &id).await.unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        let used = record.server_version.unwrap_or(i64::MAX);
        let config = ConfigApplied {
            applied_seq: record.config_seq,
            head_seq: self.db.head().await?,
            server_version: record.server_version,
            current_server_version: server.as_ref().map(|s| s.version),
            server_changes_since: history.into_iter().filter(|v| v.version > used).collect(),
        };
        let facts = Facts {
            slug: record.server.as_deref().unwrap_or("?"),
            server_id: record.server_id,
            server: server.as_ref(),
            key: key.as_ref(),
            key_id: record.key_id.as_deref().unwrap_or("?"),
            upstream_status: record.upstream_status,
            changed_since: !config.server_changes_since.is_empty(),
        };
        let diagnosis = diagnose(record.status, record.reason.as_deref(), &facts);
        Ok(RequestDiagnosis {
            request,
            diagnosis,
            config,
        })
    }
}

/// What is known besides the record.
struct Facts<'a> {
    slug: &'a str,
    server_id: Option<ServerId>,
    server: Option<&'a ServerRow>,
    key: Option<&'a ApiKeyRow>,
    key_id: &'a str,
    upstream_status: Option<u16>,
    changed_since: bool,
}

impl Facts<'_> {
    fn server_ref(&self) -> String {
        match self.server_id {
            Some(id) => format!("/v1/servers/{id}"),
            None => format!("the server with slug `{}`", self.slug),
        }
    }
}

/// The diagnosis of a status and reason.
fn diagnose(status: u16, reason: Option<&str>, facts: &Facts<'_>) -> Diagnosis {
    let outcome = match (status, reason) {
        (500.., _) => "failed",
        (400.., _) => "refused",
        // A JSON-RPC error the gateway answered in a 200 (a sign-in it asks for).
        (_, Some(_)) => "refused",
        _ => "ok",
    };
    let (cause, fix) = match reason {
        None => match facts.upstream_status {
            Some(upstream) if upstream >= 400 => (
                format!(
                    "the upstream of `{}` answered HTTP {upstream}, which the gateway relayed",
                    facts.slug
                ),
                format!(
                    "check the upstream server's own logs; `POST {}/diagnose` runs the gateway's checks against it",
                    facts.server_ref()
                ),
            ),
            _ if status >= 400 => (
                format!("the request ended with HTTP {status}"),
                String::new(),
            ),
            _ => ("the request succeeded".to_owned(), String::new()),
        },
        Some(reason) => explain(reason, facts),
    };
    let cause = if facts.changed_since && status >= 400 {
        format!(
            "{cause} (the server's configuration has changed since: see config.server_changes_since)"
        )
    } else {
        cause
    };
    Diagnosis {
        outcome,
        cause,
        fix,
    }
}

fn explain(reason: &str, facts: &Facts<'_>) -> (String, String) {
    let slug = facts.slug;
    let key_id = facts.key_id;
    let server = facts.server_ref();
    let s = |text: &str| text.to_owned();
    match reason {
        "missing_credential" => (
            s("the client sent no API key"),
            s("configure the client to send `Authorization: Bearer mcpgw_<id>_<secret>`"),
        ),
        "invalid_credential" => (
            s("the client sent a key that no data plane knows, or with a wrong secret"),
            s(
                "check that the whole key was copied; issue a new key with `POST /v1/api-keys` if it was lost",
            ),
        ),
        "key_revoked" => (
            match facts.key.and_then(|k| k.revoked_at) {
                Some(at) => format!("API key {key_id} was revoked at {at}"),
                None => format!("API key {key_id} is revoked"),
            },
            s("issue the client a new key with `POST /v1/api-keys`"),
        ),
        "key_expired" => (
            match facts.key.and_then(|k| k.expires_at) {
                Some(at) => format!("API key {key_id} expired at {at}"),
                None => format!("API key {key_id} has expired"),
            },
            s("issue the client a new key with `POST /v1/api-keys`"),
        ),
        "missing_permission" => (
            format!("API key {key_id} lacks the `mcp.invoke` permission"),
            s("issue a key with the `mcp.invoke` permission for MCP clients"),
        ),
        "not_provisioned" => (
            match (facts.key.and_then(|k| k.workspace_id), facts.server) {
                (Some(workspace), Some(server)) => format!(
                    "server `{slug}` belongs to workspace {} and is provisioned to {} other workspace(s), not to workspace {workspace} of key {key_id}",
                    server.workspace_id,
                    server.provisioned.len()
                ),
                (Some(workspace), None) => format!(
                    "server `{slug}` is not provisioned to workspace {workspace} of key {key_id}"
                ),
                (None, _) => format!("server `{slug}` is not provisioned to the key's workspace"),
            },
            format!(
                "add the key's workspace to `provisioned` with `PATCH {server}`, or give the client a key of the server's workspace"
            ),
        ),
        "server_disabled" => (
            match facts.server {
                Some(server) if server.enabled => {
                    format!("server `{slug}` was disabled (it has been enabled again since)")
                }
                _ => format!("server `{slug}` is disabled"),
            },
            format!("enable it with `PATCH {server}` and `{{\"enabled\": true}}`"),
        ),
        "unknown_server" => (
            format!("no server had the slug `{slug}` on the data plane"),
            s("check the slug in the client's URL against `GET /v1/servers`"),
        ),
        "unknown_session" => (
            s(
                "the client's session id did not open: expired, from another server or key, or ended upstream",
            ),
            s(
                "the client must initialize a new session; frequent cases point at MCPGW_SESSION_KEYS differing between pods",
            ),
        ),
        "egress_denied" => (
            format!(
                "the URL of server `{slug}` resolves to an address the egress policy refuses (private, loopback or metadata)"
            ),
            format!(
                "fix the URL with `PATCH {server}`, or have the operator allow the range in MCPGW_EGRESS_ALLOW"
            ),
        ),
        "upstream_unreachable" => (
            format!("the data plane could not connect to the upstream of `{slug}`"),
            format!(
                "check that the upstream runs and is reachable from the data planes; `POST {server}/diagnose` checks DNS, TLS and the MCP handshake"
            ),
        ),
        "upstream_timeout" => (
            format!("the upstream of `{slug}` did not answer within MCPGW_UPSTREAM_TIMEOUT"),
            format!(
                "check the upstream's load; raise MCPGW_UPSTREAM_TIMEOUT for slow tools; `POST {server}/diagnose` measures it"
            ),
        ),
        "upstream_failed" => (
            format!("the upstream of `{slug}` failed or sent a broken response"),
            format!(
                "check the upstream's logs; `POST {server}/diagnose` runs the MCP handshake against it"
            ),
        ),
        "user_required" => (
            format!(
                "server `{slug}` signs each user in to its upstream (per-user OAuth), and key {key_id} is not a user's"
            ),
            s(
                "give the client a user key (`\"type\": \"user\"` with its `user_id`) with `POST /v1/api-keys`",
            ),
        ),
        "upstream_token_failed" => (
            format!(
                "the data plane could not get a client-credentials token for `{slug}` from its authorization server"
            ),
            format!(
                "fix `auth` with `PATCH {server}`; `POST {server}/diagnose` shows the authorization server's answer in its \"client credentials\" step"
            ),
        ),
        "sign_in_required" => (
            format!(
                "the user had not signed in to the upstream of `{slug}` (or their sign-in had ended); the answer carried their sign-in link"
            ),
            format!(
                "the user opens the link and signs in; `GET {server}/connections` shows who is signed in (and who is `signed_out`), `POST {server}/test-auth` checks the sign-in path"
            ),
        ),
        "token_key_missing" => (
            s(
                "the data plane has no MCPGW_TOKEN_KEY, so it cannot keep users' tokens for per-user OAuth servers",
            ),
            s(
                "set MCPGW_TOKEN_KEY (the same keyring on every data plane) and restart the data planes",
            ),
        ),
        "user_token_failed" => (
            format!(
                "the data plane could not refresh or store the user's token for `{slug}` (its authorization server or the control plane was unreachable)"
            ),
            format!(
                "check the authorization server with `POST {server}/test-auth`, and the data planes' link to the control plane"
            ),
        ),
        "upstream_auth_failed" => (
            format!("the upstream of `{slug}` refused the gateway's credentials"),
            format!("fix the server's upstream auth with `PATCH {server}` (`auth`)"),
        ),
        "config_not_ready" => (
            s(
                "the data plane had no configuration it could trust (starting, or cut off from the control plane longer than MCPGW_MAX_STALENESS)",
            ),
            s(
                "check `GET /v1/data-planes` for stale instances and the data plane's link to the control plane and NATS",
            ),
        ),
        "host_not_allowed" | "origin_not_allowed" => (
            s("the request's Host or Origin is not one the data plane answers to"),
            s(
                "connect through MCPGW_PUBLIC_BASE_URL, or have the operator extend MCPGW_ALLOWED_HOSTS / MCPGW_ALLOWED_ORIGINS",
            ),
        ),
        "too_many_streams" => (
            format!("key {key_id} held as many open streams as MCPGW_MAX_STREAMS_PER_KEY allows"),
            s(
                "have the client close streams it no longer needs, or raise MCPGW_MAX_STREAMS_PER_KEY",
            ),
        ),
        "member_failed" => (
            format!(
                "a member of virtual server `{slug}` failed, and it is `on_failure: closed` (the error message names the member)"
            ),
            format!(
                "fix the member, or mark it `on_failure: open` with `PATCH {server}` (`virtual_server`)"
            ),
        ),
        "invalid_token" => (
            s(
                "the client sent a bearer JWT that no workspace's `jwt_validation` accepts (the error message says why: audience, issuer, signature, expiry or a required claim)",
            ),
            s(
                "have the client get a token for the server's URL from the workspace's identity provider, or fix the workspace's `jwt_validation` with `PATCH /v1/workspaces/{id}`",
            ),
        ),
        "token_check_unavailable" => (
            s(
                "the data plane could not check the client's bearer token: the issuer's keys or introspection endpoint (the workspace's or server's `jwt_validation`) did not answer, or, for the gateway's own tokens, the control plane did not; the token itself was not refused",
            ),
            s(
                "check that the data plane reaches the endpoints `jwt_validation` names (and MCPGW_EGRESS_ALLOW lets it), and its link to the control plane; the client retries with the same token",
            ),
        ),
        "identity_forwarding_failed" => (
            format!(
                "the data plane could not tell the upstream of `{slug}` who calls (its `identity_forwarding` needs a user JWT signed by the control plane, or a caller with a user), so the request was not forwarded"
            ),
            format!(
                "check the data plane's link to the control plane, call with a user's key or token, or change `identity_forwarding` with `PATCH {server}`"
            ),
        ),
        "not_granted" => (
            format!("the grants of key {key_id} (or of its user) do not list `{slug}`"),
            s(
                "add the server's slug to the grant's `servers` with `PATCH /v1/workspaces/{id}` (`grants`), or remove the grant",
            ),
        ),
        "rate_limited" => (
            format!(
                "a rate limit or quota of `{slug}` refused the request (the error's `data.limit` names which)"
            ),
            format!(
                "wait for the window to end (`Retry-After`), or raise the limit with `PATCH {server}` (`rate_limits`)"
            ),
        ),
        "body_too_large" => (
            s("the request body exceeded MCPGW_MAX_BODY_BYTES"),
            s("send smaller messages, or raise MCPGW_MAX_BODY_BYTES"),
        ),
        other => (
            format!("the client sent a request the MCP specification does not allow (`{other}`)"),
            s("fix the client; the `hint` in the error it got names the rule"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static> {
        Facts {
            slug: "weather",
            server_id: None,
            server: None,
            key: None,
            key_id: "k1",
            upstream_status: None,
            changed_since: false,
        }
    }

    #[test]
    fn every_outcome_has_a_cause() {
        let ok = diagnose(200, None, &facts());
        assert_eq!(ok.outcome, "ok");
        assert!(ok.fix.is_empty());
        let revoked = diagnose(401, Some("key_revoked"), &facts());
        assert_eq!(revoked.outcome, "refused");
        assert!(revoked.cause.contains("k1"), "{}", revoked.cause);
        assert!(revoked.fix.contains("/v1/api-keys"));
        let down = diagnose(502, Some("upstream_unreachable"), &facts());
        assert_eq!(down.outcome, "failed");
        assert!(down.fix.contains("diagnose"), "{}", down.fix);
        let sign_in = diagnose(200, Some("sign_in_required"), &facts());
        assert_eq!(sign_in.outcome, "refused");
        assert!(sign_in.fix.contains("connections"), "{}", sign_in.fix);
        let unchecked = diagnose(503, Some("token_check_unavailable"), &facts());
        assert_eq!(unchecked.outcome, "failed");
        assert!(
            unchecked.cause.contains("not refused"),
            "{}",
            unchecked.cause
        );
        let unforwarded = diagnose(502, Some("identity_forwarding_failed"), &facts());
        assert!(
            unforwarded.cause.contains("weather")
                && unforwarded.fix.contains("identity_forwarding"),
            "{unforwarded:?}"
        );
    }

    #[test]
    fn an_upstream_error_relayed_as_is_is_named() {
        let relayed = diagnose(
            500,
            None,
            &Facts {
                upstream_status: Some(500),
                ..facts()
            },
        );
        assert!(relayed.cause.contains("HTTP 500"), "{}", relayed.cause);
    }

    #[test]
    fn a_change_since_is_pointed_out() {
        let changed = diagnose(
            403,
            Some("server_disabled"),
            &Facts {
                changed_since: true,
                ..facts()
            },
        );
        assert!(changed.cause.contains("changed since"), "{}", changed.cause);
    }
}
