//! Extractors: the authenticated admin, entity ids in the path, strictly parsed JSON bodies,
//! and `If-Match`.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use mcpgw_shared::bearer::bearer_token;
use mcpgw_shared::{ApiKeyId, DataPlaneId, OAuthClientId, OAuthGrantId, ServerId, WorkspaceId};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::application::{Caller, Service, ServiceError};

/// The admin authenticated by `Authorization: Bearer <admin key>`, as a service caller.
pub struct AdminAuth(pub Caller);

/// An id that names an entity in a path (`/v1/servers/{id}`).
pub trait PathId: FromStr {
    /// The kind of entity, for the not-found answer to an id that cannot be one.
    const KIND: &'static str;
}

impl PathId for WorkspaceId {
    const KIND: &'static str = "workspace";
}

impl PathId for ServerId {
    const KIND: &'static str = "server";
}

impl PathId for ApiKeyId {
    const KIND: &'static str = "api key";
}

impl PathId for DataPlaneId {
    const KIND: &'static str = "data plane";
}

impl PathId for OAuthClientId {
    const KIND: &'static str = "oauth client";
}

impl PathId for OAuthGrantId {
    const KIND: &'static str = "oauth grant";
}

/// The `{id}` of the path, parsed: text that cannot be an id of the kind is not found, like an
/// id that names nothing.
pub struct IdPath<T>(pub T);

impl<T: PathId + Send> FromRequestParts<Service> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Service,
    ) -> Result<Self, Self::Rejection> {
        let Path(text) = Path::<String>::from_request_parts(parts, service)
            .await
            .map_err(|_| ApiError::from(ServiceError::not_found(T::KIND, "")))?;
        text.parse()
            .map(Self)
            .map_err(|_| ServiceError::not_found(T::KIND, text).into())
    }
}

impl FromRequestParts<Service> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Service,
    ) -> Result<Self, Self::Rejection> {
        let unauthenticated =
            |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message);
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            unauthenticated("send an admin API key as `Authorization: Bearer mcpgw_...`")
        })?;
        let value = header
            .to_str()
            .map_err(|_| unauthenticated("the Authorization header is not valid text"))?;
        let token = bearer_token(value).ok_or_else(|| {
            unauthenticated("the Authorization header must be `Bearer <admin key>`")
        })?;
        Ok(Self(service.authenticate_admin(token).await?.into()))
    }
}

/// A JSON body parsed strictly: wrong content type 415, bad syntax 400, wrong shape 422 with
/// the path of the offending field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Service> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, service: &Service) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, service)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        format!("the body is larger than {} bytes", super::MAX_BODY_BYTES),
                    )
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "unreadable_body",
                        rejection.body_text(),
                    )
                }
            })?;
        parse_json(&bytes).map(Self)
    }
}

/// Parses an optional body: none (or only whitespace) is `T::default()`, anything else as
/// [`parse_json`] reads it.
pub fn parse_optional_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(bytes)
    }
}

/// Parses `bytes` as `T`, mapping errors to 400 (syntax) or 422 (shape, with the field path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |error: &serde_json::Error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {error}"),
        )
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { String::new() } else { path };
                ApiError::invalid_field(field, clean_serde_message(&inner))
            }
            _ => malformed(&inner),
        }
    })?;
    deserializer.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

/// serde's message without the trailing " at line L column C".
fn clean_serde_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

/// The version in an `If-Match` header (`"3"`, `W/"3"` or `3`), if any.
pub struct IfMatch(pub Option<i64>);

impl FromRequestParts<Service> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Service) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(IF_MATCH) else {
            return Ok(Self(None));
        };
        let text = value.to_str().unwrap_or_default().trim();
        let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
        text.parse().map(|v| Self(Some(v))).map_err(|_| {
            ApiError::invalid_field("If-Match", "must be the entity's version, such as \"3\"")
        })
    }
}
