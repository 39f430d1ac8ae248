//! Reading just enough of a JSON-RPC body, strictly: its shape (one message or a batch), and
//! for each message its kind, its id, its method and, for the methods the gateway routes on
//! (`tools/call`, `prompts/get`, `resources/read`, `initialize`), the params it decides by. The
//! body itself is forwarded as received, so unknown fields are never lost.
//!
//! Strict means that what the gateway decides by cannot differ from what the upstream will
//! read: a routing field of the wrong type, missing or given twice, params that are not an
//! object, an id that is `null`, fractional or not a string or integer, or a routed method sent
//! as a notification are refused, never read as a default.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::era::Era;

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

/// A message id as sent (to echo it back) and in canonical form (to compare it).
#[derive(Clone)]
pub struct RpcId {
    raw: Box<RawValue>,
    canonical: CanonicalId,
}

/// An id compared by value: `1` and `"1"` differ, `1` and `1` written alike are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CanonicalId {
    Integer(i128),
    Text(String),
    Null,
}

impl RpcId {
    /// The id exactly as the client wrote it.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }

    /// Whether `raw` (an id read from another message) is this id.
    pub fn matches(&self, raw: &RawValue) -> bool {
        canonical(raw).is_ok_and(|other| other == self.canonical)
    }
}

impl PartialEq for RpcId {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl fmt::Debug for RpcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RpcId({})", self.raw.get())
    }
}

/// The parts of one message the gateway reads.
#[derive(Debug, Clone)]
pub struct Message {
    /// Request, notification or response.
    pub kind: Kind,
    /// Its id.
    pub id: Option<RpcId>,
    /// Its method.
    pub method: Option<String>,
    /// `params.name` (tools/call, prompts/get) or `params.uri` (resources/read).
    pub target: Option<String>,
    /// `params.protocolVersion` (initialize).
    pub protocol_version: Option<String>,
    /// Whether `params.capabilities` (initialize) declares roots, sampling or elicitation:
    /// capabilities that invite the server to send requests on the standalone stream.
    pub invites_server_requests: bool,
    /// Whether `params.capabilities.elicitation` (initialize) declares URL mode.
    pub url_elicitation: bool,
}

impl Message {
    /// Whether this message is for `method`.
    pub fn is(&self, method: &str) -> bool {
        self.method.as_deref() == Some(method)
    }

    /// The id as written, to answer with.
    pub fn raw_id(&self) -> Option<&RawValue> {
        self.id.as_ref().map(RpcId::raw)
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

impl Body {
    /// Every message of the body.
    pub fn messages(&self) -> &[Message] {
        match self {
            Self::Single(m) => std::slice::from_ref(m),
            Self::Batch(items) => items,
        }
    }
}

/// A body the gateway refuses.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MessageError {
    /// Not JSON.
    #[error("the request body is not valid JSON")]
    Parse,
    /// JSON, but not a JSON-RPC message the gateway accepts.
    #[error("invalid JSON-RPC message: {0}")]
    Invalid(&'static str),
    /// The params a routed method is decided by are wrong.
    #[error("invalid params of {method}: {problem}")]
    InvalidParams {
        /// The method.
        method: &'static str,
        /// What is wrong.
        problem: String,
        /// The message's id, to answer with.
        id: Option<Box<RawValue>>,
    },
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

/// `tools/call` and `prompts/get`.
#[derive(Deserialize)]
struct NamedParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

/// `resources/read`.
#[derive(Deserialize)]
struct ResourceParams<'a> {
    #[serde(borrow)]
    uri: Cow<'a, str>,
}

/// `initialize`.
#[derive(Deserialize)]
struct InitializeParams<'a> {
    #[serde(borrow, rename = "protocolVersion")]
    protocol_version: Cow<'a, str>,
    #[serde(borrow, default)]
    capabilities: Option<Capabilities<'a>>,
}

#[derive(Deserialize)]
struct Capabilities<'a> {
    #[serde(borrow, default)]
    roots: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sampling: Option<&'a RawValue>,
    #[serde(borrow, default)]
    elicitation: Option<&'a RawValue>,
}

/// The modes of `capabilities.elicitation` (an empty object means form mode only).
#[derive(Deserialize)]
struct ElicitationModes<'a> {
    #[serde(borrow, default)]
    url: Option<&'a RawValue>,
}

/// The methods whose params the gateway reads to route or filter, in either era.
const ROUTED: [&str; 3] = ["tools/call", "prompts/get", "resources/read"];

/// `initialize` exists in the session era only; in the stateless one it is an unknown method the
/// upstream answers with 404, and the gateway does not read it.
const INITIALIZE: &str = "initialize";

fn canonical(raw: &RawValue) -> Result<CanonicalId, MessageError> {
    let text = raw.get();
    let invalid = MessageError::Invalid("an id must be a string or an integer");
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text)
            .map(CanonicalId::Text)
            .map_err(|_| invalid),
        Some(b'n') if text == "null" => Ok(CanonicalId::Null),
        Some(b'-' | b'0'..=b'9') if text.bytes().skip(1).all(|b| b.is_ascii_digit()) => text
            .parse::<i128>()
            .map(CanonicalId::Integer)
            .map_err(|_| invalid),
        _ => Err(invalid),
    }
}

fn routed_params<'a, T: Deserialize<'a>>(
    method: &'static str,
    params: Option<&'a RawValue>,
    id: Option<&RawValue>,
) -> Result<T, MessageError> {
    let refuse = |problem: String| MessageError::InvalidParams {
        method,
        problem,
        id: id.map(ToOwned::to_owned),
    };
    let params = params.ok_or_else(|| refuse("params are missing".into()))?;
    if !params.get().starts_with('{') {
        return Err(refuse("params must be an object".into()));
    }
    serde_json::from_str(params.get()).map_err(|e| refuse(without_position(&e)))
}

/// serde's message without the trailing " at line L column C".
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

fn message(env: Envelope<'_>, era: Era) -> Result<Message, MessageError> {
    if env.jsonrpc.as_deref() != Some("2.0") {
        return Err(MessageError::Invalid("`jsonrpc` must be \"2.0\""));
    }
    let id = env
        .id
        .map(|raw| {
            canonical(raw).map(|canonical| RpcId {
                raw: raw.to_owned(),
                canonical,
            })
        })
        .transpose()?;
    let is_null = id
        .as_ref()
        .is_some_and(|i| i.canonical == CanonicalId::Null);
    let kind = match (&env.method, env.result.is_some() || env.error.is_some()) {
        (Some(_), false) if is_null => {
            return Err(MessageError::Invalid("a request's id must not be null"));
        }
        (Some(_), false) if id.is_some() => Kind::Request,
        (Some(_), false) => Kind::Notification,
        (None, true) if id.is_some() => Kind::Response,
        _ => {
            return Err(MessageError::Invalid(
                "not a request, notification or response",
            ));
        }
    };
    let mut message = Message {
        kind,
        id,
        method: env.method.as_deref().map(str::to_owned),
        target: None,
        protocol_version: None,
        invites_server_requests: false,
        url_elicitation: false,
    };
    let sessions_only = (era == Era::Sessions).then_some(INITIALIZE);
    let Some(method) = ROUTED
        .into_iter()
        .chain(sessions_only)
        .find(|m| env.method.as_deref() == Some(m))
    else {
        return Ok(message);
    };
    if kind != Kind::Request {
        return Err(MessageError::Invalid(
            "tools/call, prompts/get, resources/read and initialize must be requests with an id",
        ));
    }
    let raw_id = message.raw_id();
    match method {
        "tools/call" | "prompts/get" => {
            let params: NamedParams<'_> = routed_params(method, env.params, raw_id)?;
            message.target = Some(params.name.into_owned());
        }
        "resources/read" => {
            let params: ResourceParams<'_> = routed_params(method, env.params, raw_id)?;
            message.target = Some(params.uri.into_owned());
        }
        _ => {
            let params: InitializeParams<'_> = routed_params(method, env.params, raw_id)?;
            message.protocol_version = Some(params.protocol_version.into_owned());
            message.invites_server_requests = params.capabilities.as_ref().is_some_and(|c| {
                c.roots.is_some() || c.sampling.is_some() || c.elicitation.is_some()
            });
            message.url_elicitation = params
                .capabilities
                .and_then(|c| c.elicitation)
                .and_then(|e| serde_json::from_str::<ElicitationModes<'_>>(e.get()).ok())
                .is_some_and(|modes| modes.url.is_some());
        }
    }
    Ok(message)
}

/// The id of a single message, if it can be read at all: what an error about the request as a
/// whole (its protocol version, say) answers with, before the body is inspected.
pub fn peek_id(body: &[u8]) -> Option<Box<RawValue>> {
    let envelope: Envelope<'_> = serde_json::from_slice(body).ok()?;
    let raw = envelope.id?;
    canonical(raw).ok()?;
    Some(raw.to_owned())
}

/// Reads the shape and the routing fields of a POST body of `era`.
pub fn inspect(body: &[u8], era: Era) -> Result<Body, MessageError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let items: Vec<Envelope<'_>> = parse(body)?;
        if items.is_empty() {
            return Err(MessageError::Invalid("an empty batch"));
        }
        return items
            .into_iter()
            .map(|env| message(env, era))
            .collect::<Result<_, _>>()
            .map(Body::Batch);
    }
    message(parse(body)?, era).map(Body::Single)
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, MessageError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            MessageError::Invalid(
                "not a JSON-RPC object (or a field of the wrong type, or given twice)",
            )
        } else {
            MessageError::Parse
        }
    })
}

#[cfg(test)]
mod tests;
