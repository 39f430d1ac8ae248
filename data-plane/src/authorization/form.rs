//! Reading the forms the OAuth endpoints and pages receive: bounded in size and time, and the
//! client's credentials from HTTP Basic or the form (RFC 6749 §2.3.1).

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};

/// Largest form or registration body accepted.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Time allowed for a form to arrive.
const FORM_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The body, if it arrives whole within the bounds.
pub async fn read_bounded(body: Body) -> Result<bytes::Bytes, String> {
    let read = Limited::new(body, MAX_FORM_BYTES).collect();
    match tokio::time::timeout(FORM_READ_TIMEOUT, read).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(_)) => Err(format!(
            "the body could not be read, or is larger than {MAX_FORM_BYTES} bytes"
        )),
        Err(_) => Err(format!(
            "the body did not arrive within {} s",
            FORM_READ_TIMEOUT.as_secs()
        )),
    }
}

/// The fields of an `application/x-www-form-urlencoded` body; a field given twice is refused
/// (RFC 6749 §3.1: parameters must not be repeated).
pub async fn read_form(body: Body) -> Result<HashMap<String, String>, String> {
    let bytes = read_bounded(body).await?;
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(&bytes) {
        if fields
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(format!("the parameter `{name}` is repeated"));
        }
    }
    Ok(fields)
}

/// How the client authenticated: its id, and its secret if it sent one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    /// The client id.
    pub client_id: String,
    /// The secret.
    pub client_secret: Option<String>,
    /// Whether it came in `Authorization: Basic` (a refusal then says `WWW-Authenticate`).
    pub basic: bool,
}

/// The client's credentials, from `Authorization: Basic` or the form's `client_id` and
/// `client_secret`; an error when both name different clients.
pub fn client_auth(
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
) -> Result<ClientAuth, String> {
    let basic = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(encoded) = basic {
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or("the Basic credentials are not base64 of `id:secret`")?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or("the Basic credentials are not `id:secret`")?;
        let decode = |part: &str| {
            url::form_urlencoded::parse(format!("x={part}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let auth = ClientAuth {
            client_id: decode(id),
            client_secret: Some(decode(secret)),
            basic: true,
        };
        if fields
            .get("client_id")
            .is_some_and(|form_id| *form_id != auth.client_id)
        {
            return Err("the form's client_id is not the one in the Basic credentials".into());
        }
        return Ok(auth);
    }
    Ok(ClientAuth {
        client_id: fields.get("client_id").cloned().unwrap_or_default(),
        client_secret: fields.get("client_secret").cloned(),
        basic: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded_and_must_agree_with_the_form() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20client:s%3Acret");
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        let auth = client_auth(&headers, &HashMap::new()).unwrap();
        assert_eq!(auth.client_id, "my client");
        assert_eq!(auth.client_secret.as_deref(), Some("s:cret"));
        let other = HashMap::from([("client_id".to_owned(), "other".to_owned())]);
        assert!(client_auth(&headers, &other).is_err());
        let form = HashMap::from([("client_id".to_owned(), "public".to_owned())]);
        let auth = client_auth(&HeaderMap::new(), &form).unwrap();
        assert_eq!((auth.client_id.as_str(), auth.basic), ("public", false));
    }
}
