//! Identity forwarding: the header that tells a server's upstream who calls, written by the
//! gateway itself (the client's own credential never crosses).
//!
//! - `claims_header`: a JSON object `{"sub", "workspace", "client_id"?, "scope"?}` — `sub` is
//!   the user of a user key (or of a token); a service key, which has no user, is named by its
//!   key id with `"kind": "service"`. Non-ASCII characters are sent as JSON `\u` escapes.
//! - `jwt`: a short-lived JWT the control plane signs with the gateway's authorization-server
//!   keys (`iss` the pod's public base URL, `aud` the server's upstream URL, `sub` the user),
//!   kept per server and user until 30 seconds before it expires. Only callers with a user
//!   get one: a service key's requests go without it. The header value is marked sensitive.
//!
//! A JWT that cannot be had fails the request (`identity_forwarding_failed`, 502): it is never
//! forwarded without it.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use mcpgw_shared::proto::UserAssertionRequest;
use mcpgw_shared::{ServerId, WorkspaceId};
use serde_json::{Map, Value, json};

use crate::admission::Principal;
use crate::errors::GatewayError;
use crate::snapshot::{IdentityHeader, Route};
use crate::sync::SyncClient;

/// How long before its expiry an assertion is replaced.
const RENEW_BEFORE: Duration = Duration::from_secs(30);
/// Most assertions kept.
const MAX_ASSERTIONS: u64 = 100_000;

/// An assertion per server, connection version (its URL, the audience), lifetime, workspace
/// and user.
type Key = (ServerId, i64, u32, WorkspaceId, Arc<str>);

/// A signed assertion, ready to send.
struct Assertion {
    value: HeaderValue,
    fresh_for: Duration,
}

/// Expires each assertion when it is due for renewal.
struct FreshFor;

impl moka::Expiry<Key, Arc<Assertion>> for FreshFor {
    fn expire_after_create(
        &self,
        _: &Key,
        assertion: &Arc<Assertion>,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(assertion.fresh_for)
    }
}

/// The user assertions of a pod, signed by the control plane and kept; cheap to clone.
#[derive(Clone)]
pub struct UserAssertions {
    sync: SyncClient,
    issuer: Arc<str>,
    kept: moka::future::Cache<Key, Arc<Assertion>>,
}

impl std::fmt::Debug for UserAssertions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAssertions")
            .field("issuer", &self.issuer)
            .field("kept", &self.kept.entry_count())
            .finish()
    }
}

impl UserAssertions {
    /// Assertions of `issuer` (the pod's public base URL), signed through `sync`.
    pub fn new(sync: SyncClient, issuer: &str) -> Self {
        Self {
            sync,
            issuer: issuer.into(),
            kept: moka::future::Cache::builder()
                .max_capacity(MAX_ASSERTIONS)
                .expire_after(FreshFor)
                .build(),
        }
    }

    /// The assertion for `user` of `workspace` calling `route`; concurrent callers wait for
    /// one signing.
    async fn value(
        &self,
        route: &Route,
        ttl_seconds: u32,
        workspace: WorkspaceId,
        user: &Arc<str>,
    ) -> Result<HeaderValue, String> {
        let key = (
            route.id(),
            route.connection_version(),
            ttl_seconds,
            workspace,
            user.clone(),
        );
        let request = UserAssertionRequest {
            issuer: self.issuer.to_string(),
            audience: route.server.url.clone(),
            subject: user.to_string(),
            workspace_id: workspace.to_string(),
            server_id: route.id().to_string(),
            ttl_seconds,
        };
        self.kept
            .try_get_with(key, self.sign(request))
            .await
            .map(|assertion| assertion.value.clone())
            .map_err(|error| error.to_string())
    }

    async fn sign(&self, request: UserAssertionRequest) -> Result<Arc<Assertion>, String> {
        let signed = self
            .sync
            .sign_user_assertion(request)
            .await
            .map_err(|e| e.to_string())?;
        let mut value = HeaderValue::from_str(&signed.jwt)
            .map_err(|_| "the control plane answered a token that is not a header value")?;
        value.set_sensitive(true);
        let left = signed.expires_at - chrono::Utc::now().timestamp();
        let fresh_for =
            Duration::from_secs(u64::try_from(left).unwrap_or(0)).saturating_sub(RENEW_BEFORE);
        Ok(Arc::new(Assertion { value, fresh_for }))
    }
}

/// The header that tells `route`'s upstream who `caller` is: none when the server forwards no
/// identity or the gateway calls on its own (no caller), and none in `jwt` mode for a caller
/// without a user.
pub async fn header(
    assertions: Option<&UserAssertions>,
    route: &Route,
    caller: Option<&Principal>,
) -> Result<Option<(HeaderName, HeaderValue)>, GatewayError> {
    let (Some(identity), Some(caller)) = (&route.identity, caller) else {
        return Ok(None);
    };
    let workspace = caller.key.workspace.unwrap_or(route.server.workspace_id);
    match identity {
        IdentityHeader::Claims(name) => {
            let value = HeaderValue::from_str(&ascii_json(&claims(caller, workspace)))
                .expect("escaped JSON is visible ASCII");
            Ok(Some((name.clone(), value)))
        }
        IdentityHeader::Jwt {
            header,
            ttl_seconds,
        } => {
            let Some(user) = &caller.key.user else {
                return Ok(None);
            };
            let failed = |detail: String| {
                tracing::warn!(server = %route.slug(), %detail, "no user assertion for identity forwarding");
                GatewayError::IdentityForwarding {
                    slug: route.slug().to_string(),
                    detail,
                }
            };
            let assertions = assertions.ok_or_else(|| {
                failed("this data plane has no link to the control plane's signing keys".into())
            })?;
            let value = assertions
                .value(route, *ttl_seconds, workspace, user)
                .await
                .map_err(failed)?;
            Ok(Some((header.clone(), value)))
        }
    }
}

/// The claims of `claims_header` mode.
fn claims(caller: &Principal, workspace: WorkspaceId) -> Value {
    let mut claims = Map::new();
    match &caller.key.user {
        Some(user) => {
            claims.insert("sub".into(), json!(user.as_ref()));
        }
        None => {
            claims.insert("sub".into(), json!(caller.key_id.to_string()));
            claims.insert("kind".into(), json!("service"));
        }
    }
    claims.insert("workspace".into(), json!(workspace.to_string()));
    if let Some(client_id) = &caller.client_id {
        claims.insert("client_id".into(), json!(client_id.as_ref()));
    }
    if let Some(scope) = &caller.scope {
        claims.insert("scope".into(), json!(scope.as_ref()));
    }
    Value::Object(claims)
}

/// `value` as JSON in visible ASCII: every other character as a `\u` escape (a surrogate pair
/// beyond the Basic Multilingual Plane). Outside strings JSON has only ASCII, so escaping
/// every character is enough.
fn ascii_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_sent_as_ascii_json_that_reads_back_the_same() {
        let value = json!({"sub": "zoë 🦀", "workspace": "w"});
        let text = ascii_json(&value);
        assert!(text.is_ascii(), "{text}");
        assert!(HeaderValue::from_str(&text).is_ok());
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }
}
