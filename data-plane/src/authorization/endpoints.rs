//! The endpoints clients call directly: token (authorization code and refresh token),
//! registration (RFC 7591), revocation (RFC 7009) and introspection (RFC 7662). Each reads a
//! bounded body, hands the decision to the control plane, and answers in OAuth's JSON with
//! `Cache-Control: no-store`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use mcpgw_shared::proto::{RegisterClientRequest, TokenOfClient, TokenRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AuthorizationServer;
use super::form::{ClientAuth, client_auth, read_bounded, read_form};
use crate::sync::SyncError;

/// What a client whose credentials failed is told.
const BAD_CLIENT: &str = "the client's credentials are not valid";

/// An OAuth error answer.
fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    no_store(
        status,
        json!({"error": error, "error_description": description.into()}),
    )
}

/// A JSON answer that must not be cached.
fn no_store(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `invalid_client`, with a Basic challenge when the client tried Basic (RFC 6749 §5.2).
fn invalid_client(auth: &ClientAuth, description: &str) -> Response {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    if auth.basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"mcpgw\""),
        );
    }
    response
}

/// The control plane could not be asked.
fn unavailable(error: SyncError) -> Response {
    match error {
        SyncError::Refused(why) => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why),
        other => {
            tracing::warn!(error = %other, "the authorization server's store is unavailable");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the gateway cannot reach its control plane now; retry shortly",
            )
        }
    }
}

/// `POST /oauth/token`.
pub async fn token(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let fields = match read_form(body).await {
        Ok(fields) => fields,
        Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why),
    };
    let auth = match client_auth(&headers, &fields) {
        Ok(auth) => auth,
        Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why),
    };
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let request = TokenRequest {
        grant_type: field("grant_type"),
        code: field("code"),
        code_verifier: field("code_verifier"),
        redirect_uri: field("redirect_uri"),
        refresh_token: field("refresh_token"),
        client_id: auth.client_id.clone(),
        client_secret: auth.client_secret.clone(),
        resource: field("resource"),
        scope: field("scope"),
    };
    let answer = match server.inner.sync.exchange_token(request).await {
        Ok(answer) => answer,
        Err(error) => return unavailable(error),
    };
    match answer.error.as_str() {
        "" => no_store(
            StatusCode::OK,
            json!({
                "access_token": answer.access_token,
                "token_type": "Bearer",
                "expires_in": answer.expires_in,
                "refresh_token": answer.refresh_token,
                "scope": answer.scope,
            }),
        ),
        "invalid_client" => invalid_client(&auth, &answer.error_description),
        error => oauth_error(StatusCode::BAD_REQUEST, error, answer.error_description),
    }
}

/// A client's registration request (RFC 7591 §2), as far as the gateway reads it.
#[derive(Deserialize)]
struct Registration {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    response_types: Vec<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    client_uri: Option<String>,
}

/// `POST /oauth/register`.
pub async fn register(State(server): State<AuthorizationServer>, body: Body) -> Response {
    let bytes = match read_bounded(body).await {
        Ok(bytes) => bytes,
        Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", why),
    };
    let registration: Registration = match serde_json::from_slice(&bytes) {
        Ok(registration) => registration,
        Err(e) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                format!("the body is not client metadata JSON ({e})"),
            );
        }
    };
    if let Some(other) = registration
        .response_types
        .iter()
        .find(|t| t.as_str() != "code")
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            format!("response type `{other}` is not supported: only `code`"),
        );
    }
    let request = RegisterClientRequest {
        client_name: registration.client_name.unwrap_or_default(),
        redirect_uris: registration.redirect_uris,
        token_endpoint_auth_method: registration.token_endpoint_auth_method.unwrap_or_default(),
        grant_types: registration.grant_types,
        scope: registration.scope.unwrap_or_default(),
        client_uri: registration.client_uri.unwrap_or_default(),
    };
    match server.inner.sync.register_client(request).await {
        Ok(client) => {
            let mut answer = json!({
                "client_id": client.client_id,
                "client_id_issued_at": client.client_id_issued_at,
                "client_name": client.client_name,
                "redirect_uris": client.redirect_uris,
                "token_endpoint_auth_method": client.token_endpoint_auth_method,
                "grant_types": client.grant_types,
                "response_types": ["code"],
                "scope": client.scope,
            });
            if !client.client_uri.is_empty() {
                answer["client_uri"] = json!(client.client_uri);
            }
            if let Some(secret) = client.client_secret {
                answer["client_secret"] = json!(secret);
                answer["client_secret_expires_at"] = json!(0);
            }
            no_store(StatusCode::CREATED, answer)
        }
        Err(SyncError::Refused(why)) => {
            let error = if why.contains("redirect_uri") {
                "invalid_redirect_uri"
            } else {
                "invalid_client_metadata"
            };
            oauth_error(StatusCode::BAD_REQUEST, error, why)
        }
        Err(error) => unavailable(error),
    }
}

/// The token and client of a revocation or introspection request.
async fn token_of_client(
    headers: &HeaderMap,
    body: Body,
) -> Result<(TokenOfClient, ClientAuth), Response> {
    let bad = |why: String| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why);
    let fields = read_form(body).await.map_err(bad)?;
    let auth = client_auth(headers, &fields).map_err(bad)?;
    let token = fields
        .get("token")
        .filter(|t| !t.is_empty())
        .cloned()
        .ok_or_else(|| bad("the `token` parameter is missing".into()))?;
    Ok((
        TokenOfClient {
            token,
            client_id: auth.client_id.clone(),
            client_secret: auth.client_secret.clone(),
        },
        auth,
    ))
}

/// `POST /oauth/revoke`: 200 whether or not the token was known (RFC 7009 §2.2).
pub async fn revoke(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (request, auth) = match token_of_client(&headers, body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    match server.inner.sync.revoke_token(request).await {
        Ok(result) if result.invalid_client => invalid_client(&auth, BAD_CLIENT),
        Ok(_) => no_store(StatusCode::OK, json!({})),
        Err(error) => unavailable(error),
    }
}

/// `POST /oauth/introspect`.
pub async fn introspect(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (request, auth) = match token_of_client(&headers, body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    match server.inner.sync.introspect_token(request).await {
        Ok(answer) if answer.invalid_client => invalid_client(&auth, BAD_CLIENT),
        Ok(answer) => match serde_json::from_str::<Value>(&answer.json) {
            Ok(body) => no_store(StatusCode::OK, body),
            Err(_) => no_store(StatusCode::OK, json!({"active": false})),
        },
        Err(error) => unavailable(error),
    }
}
