//! Telling a user who has not signed in to a per-user OAuth upstream where to do it, in the
//! form their client understands; never a 401, which would send the client into OAuth with
//! the gateway itself:
//! - 2026-07-28 `tools/call`, `prompts/get` and `resources/read`: an `InputRequiredResult`
//!   with a URL-mode `elicitation/create` and the gateway's sealed `requestState`; the retry
//!   carries them back, and the gateway takes them out before the upstream sees the request;
//! - 2025-11-25 sessions whose client declared URL elicitation: the `-32042` error;
//! - anything else: a JSON-RPC error whose message and `data.sign_in_url` carry the link.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header;
use serde_json::{Value, json};

use crate::errors::GatewayError;
use crate::oauth::SignIn;
use crate::protocol::era::Era;
use crate::protocol::message::Message;
use crate::session::SessionClaims;
use crate::snapshot::Route;

/// Methods that may answer with an `InputRequiredResult` (2026-07-28).
const INTERACTIVE: [&str; 3] = ["tools/call", "prompts/get", "resources/read"];
/// The key of the gateway's input request.
const INPUT_KEY: &str = "mcpgw_sign_in";
/// The first protocol version with URL elicitation.
const URL_ELICITATION_SINCE: &str = "2025-11-25";

/// The answer to `message` when its sender must sign in first: the success response, or the
/// error to render.
pub fn answer(
    error: GatewayError,
    era: Era,
    claims: Option<&SessionClaims>,
    message: Option<&Message>,
    sign_in: Option<&SignIn>,
    route: &Route,
    user: Option<&str>,
) -> Result<Response, GatewayError> {
    let GatewayError::SignInRequired {
        slug,
        server,
        link,
        cause,
        ..
    } = error
    else {
        return Err(error);
    };
    let interactive = message.filter(|m| INTERACTIVE.iter().any(|method| m.is(method)));
    if era == Era::Stateless
        && let (Some(message), Some(sign_in), Some(user)) = (interactive, sign_in, user)
    {
        let result = json!({
            "jsonrpc": "2.0",
            "id": message.raw_id(),
            "result": {
                "resultType": "input_required",
                "inputRequests": {
                    INPUT_KEY: {
                        "method": "elicitation/create",
                        "params": {
                            "mode": "url",
                            "message": match &cause {
                                Some(cause) => format!("{cause}. Sign in to {server} again, then confirm."),
                                None => format!("Sign in to {server} to let the gateway use it for you, then confirm."),
                            },
                            "url": link.url,
                        },
                    },
                },
                "requestState": sign_in.request_state(route, user),
            },
        });
        return Ok((
            [(header::CONTENT_TYPE, "application/json")],
            result.to_string(),
        )
            .into_response());
    }
    // The session's client declared URL elicitation, or this `initialize` does.
    let declared = claims
        .map(|c| (c.url_elicitation, Some(c.protocol_version.as_str())))
        .or_else(|| {
            message
                .filter(|m| m.is("initialize"))
                .map(|m| (m.url_elicitation, m.protocol_version.as_deref()))
        });
    let url_elicitation = era == Era::Sessions
        && declared.is_some_and(|(declared, version)| {
            declared && version.is_some_and(|v| v >= URL_ELICITATION_SINCE)
        });
    Err(GatewayError::SignInRequired {
        slug,
        server,
        link,
        url_elicitation,
        cause,
    })
}

/// A 2026-07-28 retry's body without the gateway's own `requestState` and `inputResponses`,
/// which are not the upstream's to see; `None` when the body carries none of the gateway's.
/// A `requestState` of the gateway's that is not this caller's, or has expired, is refused.
pub fn strip_own_state(
    body: &[u8],
    sign_in: &SignIn,
    route: &Route,
    user: &str,
) -> Result<Option<Bytes>, GatewayError> {
    if !contains(body, b"requestState") {
        return Ok(None);
    }
    let Ok(mut message) = serde_json::from_slice::<Value>(body) else {
        return Ok(None);
    };
    let Some(params) = message.get_mut("params").and_then(Value::as_object_mut) else {
        return Ok(None);
    };
    let Some(state) = params.get("requestState").and_then(Value::as_str) else {
        return Ok(None);
    };
    match sign_in.own_request_state(state, route, user) {
        None => Ok(None),
        Some(false) => Err(GatewayError::InvalidParams {
            method: "requestState",
            problem: "the gateway's requestState is expired or belongs to another caller or server: retry the request without it".into(),
        }),
        Some(true) => {
            params.remove("requestState");
            params.remove("inputResponses");
            Ok(Some(Bytes::from(message.to_string())))
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
