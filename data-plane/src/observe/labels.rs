//! Label values of the data plane's metrics, each from a bounded set: a client choosing method
//! names or slugs cannot grow the number of series.

/// The JSON-RPC methods of MCP (both protocol eras) that get a label of their own.
const KNOWN_METHODS: [&str; 27] = [
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "roots/list",
    "sampling/createMessage",
    "elicitation/create",
    "tasks/get",
    "tasks/list",
    "tasks/result",
    "tasks/cancel",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "notifications/message",
    "notifications/elicitation/complete",
];

/// The method label of a request: a known MCP method, `other` for any other method, or what
/// the HTTP request was when it carried no method (`stream` for a GET, `delete` for the end of
/// a session, `response` for a client's JSON-RPC answer, `batch`, `none` when the body was not
/// read).
pub fn method(http: &http::Method, rpc: Option<&str>, body: BodyShape) -> &'static str {
    match (http, rpc, body) {
        (&http::Method::GET, ..) => "stream",
        (&http::Method::DELETE, ..) => "delete",
        (_, Some(name), _) => KNOWN_METHODS
            .iter()
            .find(|known| **known == name)
            .copied()
            .unwrap_or("other"),
        (_, None, BodyShape::Response) => "response",
        (_, None, BodyShape::Batch) => "batch",
        (_, None, BodyShape::Unread) => "none",
    }
}

/// What a POST body was, when it named no single method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyShape {
    /// Not read (refused before), or not JSON-RPC.
    #[default]
    Unread,
    /// A JSON-RPC response of the client's.
    Response,
    /// A JSON-RPC batch.
    Batch,
}

/// The server label: the slug of a configured server, else `unknown` (the slug a client typed
/// is not a label value).
pub fn server(configured_slug: Option<&str>) -> &str {
    configured_slug.unwrap_or("unknown")
}

/// Whether a gateway error reason is an authentication or authorization failure.
pub fn is_auth_failure(reason: &str) -> bool {
    matches!(
        reason,
        "missing_credential"
            | "invalid_credential"
            | "key_revoked"
            | "key_expired"
            | "missing_permission"
            | "not_provisioned"
            | "user_required"
            | "host_not_allowed"
            | "origin_not_allowed"
    )
}

/// Whether a gateway error reason is a failure of the upstream (or of reaching it).
pub fn is_upstream_failure(reason: &str) -> bool {
    matches!(
        reason,
        "egress_denied"
            | "upstream_unreachable"
            | "upstream_timeout"
            | "upstream_failed"
            | "upstream_token_failed"
            | "upstream_auth_failed"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_map_to_a_bounded_set() {
        let post = http::Method::POST;
        assert_eq!(
            method(&post, Some("tools/call"), BodyShape::Unread),
            "tools/call"
        );
        assert_eq!(
            method(&post, Some("x/".repeat(500).as_str()), BodyShape::Unread),
            "other"
        );
        assert_eq!(method(&post, None, BodyShape::Response), "response");
        assert_eq!(method(&post, None, BodyShape::Unread), "none");
        assert_eq!(
            method(&http::Method::GET, None, BodyShape::Unread),
            "stream"
        );
        assert_eq!(
            method(&http::Method::DELETE, None, BodyShape::Unread),
            "delete"
        );
    }

    #[test]
    fn reasons_are_classified() {
        assert!(is_auth_failure("key_revoked"));
        assert!(!is_auth_failure("upstream_timeout"));
        assert!(is_upstream_failure("upstream_timeout"));
        assert_eq!(server(None), "unknown");
    }
}
