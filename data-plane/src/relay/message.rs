//! Reading just enough of a JSON-RPC body: its shape (one message or a batch), and for each
//! message its id, method, the name it targets and the requested protocol version. The body
//! itself is forwarded as received, so unknown fields are never lost.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::errors::GatewayError;

/// What kind of JSON-RPC message it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Has a method and an id.
    Request,
    /// Has a method and no id.
    Notification,
    /// Has a result or an error, and no method.
    Response,
}

/// The parts of one message the gateway reads.
#[derive(Debug, Clone)]
pub struct Message {
    /// Request, notification or response.
    pub kind: Kind,
    /// Its id, verbatim.
    pub id: Option<Box<RawValue>>,
    /// Its method.
    pub method: Option<String>,
    /// `params.name` (tools/call, prompts/get) or `params.uri` (resources/read).
    pub target: Option<String>,
    /// `params.protocolVersion` (initialize).
    pub protocol_version: Option<String>,
    /// Whether `params.capabilities` (initialize) declares roots, sampling or elicitation:
    /// capabilities that invite the server to send requests on the standalone stream.
    pub invites_server_requests: bool,
}

impl Message {
    /// Whether this is a request for `method`.
    pub fn is(&self, method: &str) -> bool {
        self.method.as_deref() == Some(method)
    }
}

/// A POST body: one message or a batch.
#[derive(Debug, Clone)]
pub enum Body {
    /// One message.
    Single(Message),
    /// A JSON array of messages.
    Batch(Vec<Message>),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct Params<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "protocolVersion")]
    protocol_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    capabilities: Option<Capabilities<'a>>,
}

#[derive(Deserialize, Default)]
struct Capabilities<'a> {
    #[serde(borrow, default)]
    roots: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sampling: Option<&'a RawValue>,
    #[serde(borrow, default)]
    elicitation: Option<&'a RawValue>,
}

fn message(env: Envelope<'_>) -> Result<Message, GatewayError> {
    if env.jsonrpc.as_deref() != Some("2.0") {
        return Err(GatewayError::InvalidRequest("`jsonrpc` must be \"2.0\""));
    }
    let id = env
        .id
        .filter(|id| id.get() != "null")
        .map(|id| id.to_owned());
    let kind = match (&env.method, env.result.is_some() || env.error.is_some()) {
        (Some(_), false) if id.is_some() => Kind::Request,
        (Some(_), false) => Kind::Notification,
        (None, true) if id.is_some() => Kind::Response,
        _ => {
            return Err(GatewayError::InvalidRequest(
                "not a request, notification or response",
            ));
        }
    };
    let params = match (&env.method, env.params) {
        (Some(m), Some(raw))
            if matches!(
                &**m,
                "tools/call" | "prompts/get" | "resources/read" | "initialize"
            ) =>
        {
            serde_json::from_str::<Params<'_>>(raw.get()).unwrap_or_default()
        }
        _ => Params::default(),
    };
    let target = match env.method.as_deref() {
        Some("resources/read") => params.uri,
        Some("tools/call" | "prompts/get") => params.name,
        _ => None,
    };
    Ok(Message {
        kind,
        id,
        method: env.method.map(Cow::into_owned),
        target: target.map(Cow::into_owned),
        protocol_version: params.protocol_version.map(Cow::into_owned),
        invites_server_requests: params
            .capabilities
            .is_some_and(|c| c.roots.is_some() || c.sampling.is_some() || c.elicitation.is_some()),
    })
}

/// Reads the shape and the routing fields of a POST body.
pub fn inspect(body: &[u8]) -> Result<Body, GatewayError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let items: Vec<Envelope<'_>> = serde_json::from_slice(body).map_err(|e| classify(&e))?;
        if items.is_empty() {
            return Err(GatewayError::InvalidRequest("an empty batch"));
        }
        return items
            .into_iter()
            .map(message)
            .collect::<Result<_, _>>()
            .map(Body::Batch);
    }
    let env: Envelope<'_> = serde_json::from_slice(body).map_err(|e| classify(&e))?;
    message(env).map(Body::Single)
}

fn classify(e: &serde_json::Error) -> GatewayError {
    if e.is_data() {
        GatewayError::InvalidRequest("not a JSON-RPC object")
    } else {
        GatewayError::Parse
    }
}

#[cfg(test)]
mod tests;
