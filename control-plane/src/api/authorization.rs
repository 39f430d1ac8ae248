//! The authorization gRPC service for data planes: the store and the signer behind the
//! gateway's own OAuth endpoints. Every call authenticates the data plane's token as
//! `ConfigSync` does; the service layer decides, this module only speaks protobuf. A refused
//! token request is an answer (`error` set), not a gRPC error.

use mcpgw_shared::proto::authorization_server::{Authorization, AuthorizationServer};
use mcpgw_shared::proto::{
    GetClientRequest, Introspection, IssueCodeRequest, IssuedCode, Jwks, OAuthClient,
    RegisterClientRequest, RevokeTokenResult, SigningKeysRequest, TokenOfClient, TokenRequest,
    TokenResponse, UserAssertion, UserAssertionRequest,
};
use tonic::{Request, Response, Status};

use super::grpc::{self, status};
use crate::application::{
    ClientCredentials, IssueCodeInput, RegisterClientInput, Service, ServiceError, TokenInput,
    UserAssertionInput,
};
use crate::domain::DomainError;
use crate::domain::oauth_grant::{TokenError, TokenRefusal};
use crate::metrics::ControlPlaneMetrics;
use crate::store::{DataPlaneRow, OAuthClientRow};

/// The gRPC service.
#[derive(Clone)]
pub struct AuthorizationService {
    service: Service,
    metrics: ControlPlaneMetrics,
}

impl AuthorizationService {
    /// An authorization service over the service layer, counting its calls in `metrics`.
    pub fn new(service: Service, metrics: ControlPlaneMetrics) -> Self {
        Self { service, metrics }
    }

    /// As a tonic server.
    pub fn into_server(self) -> AuthorizationServer<Self> {
        AuthorizationServer::new(self)
    }

    /// Runs one call in its span and counts its outcome.
    async fn observed<T>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let count = |result| self.metrics.authorization_call(method, result);
        grpc::observed("mcpgw.v1.Authorization", method, count, call).await
    }

    async fn authenticate<T>(&self, request: &Request<T>) -> Result<DataPlaneRow, Status> {
        grpc::authenticate(&self.service, request).await
    }
}

fn client_message(row: OAuthClientRow, client_secret: Option<String>) -> OAuthClient {
    OAuthClient {
        client_id: row.id.to_string(),
        client_name: row.name,
        redirect_uris: row.redirect_uris,
        token_endpoint_auth_method: row.token_endpoint_auth_method,
        grant_types: row.grant_types,
        scope: row.scope,
        client_secret,
        client_id_issued_at: row.created_at.timestamp(),
        client_uri: row.client_uri,
    }
}

/// A refusal the client is answered with, or the failure of the call.
fn refusal(error: ServiceError) -> Result<TokenRefusal, Status> {
    match error {
        ServiceError::Domain(DomainError::Refused(refusal)) => Ok(refusal),
        other => Err(status(other)),
    }
}

/// Whether a failed call is the client failing to authenticate (answered as `invalid_client`).
fn invalid_client(error: ServiceError) -> Result<bool, Status> {
    match refusal(error)? {
        TokenRefusal {
            error: TokenError::InvalidClient,
            ..
        } => Ok(true),
        other => Err(Status::internal(other.to_string())),
    }
}

fn credentials(client_id: String, client_secret: Option<String>) -> ClientCredentials {
    ClientCredentials {
        client_id,
        client_secret,
    }
}

fn parse_id<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, Status> {
    text.parse()
        .map_err(|_| Status::invalid_argument(format!("{field}: `{text}` is not a valid id")))
}

#[tonic::async_trait]
impl Authorization for AuthorizationService {
    async fn register_client(
        &self,
        request: Request<RegisterClientRequest>,
    ) -> Result<Response<OAuthClient>, Status> {
        self.observed("RegisterClient", async move {
            let data_plane = self.authenticate(&request).await?;
            let request = request.into_inner();
            let registered = self
                .service
                .register_oauth_client(
                    &data_plane,
                    RegisterClientInput {
                        client_name: request.client_name,
                        redirect_uris: request.redirect_uris,
                        token_endpoint_auth_method: request.token_endpoint_auth_method,
                        grant_types: request.grant_types,
                        scope: request.scope,
                        client_uri: request.client_uri,
                    },
                )
                .await
                .map_err(status)?;
            Ok(Response::new(client_message(
                registered.client,
                registered.client_secret,
            )))
        })
        .await
    }

    async fn get_client(
        &self,
        request: Request<GetClientRequest>,
    ) -> Result<Response<OAuthClient>, Status> {
        self.observed("GetClient", async move {
            self.authenticate(&request).await?;
            let client = self
                .service
                .oauth_client(&request.get_ref().client_id)
                .await
                .map_err(status)?;
            Ok(Response::new(client_message(client, None)))
        })
        .await
    }

    async fn issue_code(
        &self,
        request: Request<IssueCodeRequest>,
    ) -> Result<Response<IssuedCode>, Status> {
        self.observed("IssueCode", async move {
            let data_plane = self.authenticate(&request).await?;
            let request = request.into_inner();
            let input = IssueCodeInput {
                workspace_id: parse_id("workspace_id", &request.workspace_id)?,
                server_id: parse_id("server_id", &request.server_id)?,
                client_id: request.client_id,
                user_id: request.user_id,
                resource: request.resource,
                scope: request.scope,
                redirect_uri: request.redirect_uri,
                code_challenge: request.code_challenge,
                issuer: request.issuer,
            };
            let issued = self
                .service
                .issue_oauth_code(&data_plane, input)
                .await
                .map_err(status)?;
            Ok(Response::new(IssuedCode {
                code: issued.code,
                expires_in: issued.expires_in,
                grant_id: issued.grant_id.to_string(),
            }))
        })
        .await
    }

    async fn exchange_token(
        &self,
        request: Request<TokenRequest>,
    ) -> Result<Response<TokenResponse>, Status> {
        self.observed("ExchangeToken", async move {
            let data_plane = self.authenticate(&request).await?;
            let request = request.into_inner();
            let input = TokenInput {
                grant_type: request.grant_type,
                code: request.code,
                code_verifier: request.code_verifier,
                redirect_uri: request.redirect_uri,
                refresh_token: request.refresh_token,
                client: credentials(request.client_id, request.client_secret),
                resource: request.resource,
                scope: request.scope,
            };
            let answer = match self.service.exchange_oauth_token(&data_plane, input).await {
                Ok(tokens) => TokenResponse {
                    access_token: tokens.access_token,
                    expires_in: tokens.expires_in,
                    refresh_token: tokens.refresh_token,
                    scope: tokens.scope,
                    ..TokenResponse::default()
                },
                Err(error) => {
                    let refusal = refusal(error)?;
                    TokenResponse {
                        error: refusal.error.as_str().to_owned(),
                        error_description: refusal.description,
                        ..TokenResponse::default()
                    }
                }
            };
            Ok(Response::new(answer))
        })
        .await
    }

    async fn revoke_token(
        &self,
        request: Request<TokenOfClient>,
    ) -> Result<Response<RevokeTokenResult>, Status> {
        self.observed("RevokeToken", async move {
            let data_plane = self.authenticate(&request).await?;
            let request = request.into_inner();
            let client = credentials(request.client_id, request.client_secret);
            let answer = match self
                .service
                .revoke_oauth_token(&data_plane, &request.token, &client)
                .await
            {
                Ok(grant) => RevokeTokenResult {
                    grant_id: grant.map(|g| g.to_string()).unwrap_or_default(),
                    invalid_client: false,
                },
                Err(error) => RevokeTokenResult {
                    grant_id: String::new(),
                    invalid_client: invalid_client(error)?,
                },
            };
            Ok(Response::new(answer))
        })
        .await
    }

    async fn introspect_token(
        &self,
        request: Request<TokenOfClient>,
    ) -> Result<Response<Introspection>, Status> {
        self.observed("IntrospectToken", async move {
            let data_plane = self.authenticate(&request).await?;
            let request = request.into_inner();
            let client = credentials(request.client_id, request.client_secret);
            let answer = match self
                .service
                .introspect_oauth_token(&data_plane, &request.token, &client)
                .await
            {
                Ok(json) => Introspection {
                    json: json.to_string(),
                    invalid_client: false,
                },
                Err(error) => Introspection {
                    json: serde_json::json!({ "active": false }).to_string(),
                    invalid_client: invalid_client(error)?,
                },
            };
            Ok(Response::new(answer))
        })
        .await
    }

    async fn signing_keys(
        &self,
        request: Request<SigningKeysRequest>,
    ) -> Result<Response<Jwks>, Status> {
        self.observed("SigningKeys", async move {
            self.authenticate(&request).await?;
            let jwks = self.service.oauth_jwks().await.map_err(status)?;
            Ok(Response::new(Jwks {
                json: jwks.to_string(),
            }))
        })
        .await
    }

    async fn sign_user_assertion(
        &self,
        request: Request<UserAssertionRequest>,
    ) -> Result<Response<UserAssertion>, Status> {
        self.observed("SignUserAssertion", async move {
            let data_plane = self.authenticate(&request).await?;
            let request = request.into_inner();
            let input = UserAssertionInput {
                workspace_id: parse_id("workspace_id", &request.workspace_id)?,
                server_id: parse_id("server_id", &request.server_id)?,
                issuer: request.issuer,
                audience: request.audience,
                subject: request.subject,
                ttl_seconds: request.ttl_seconds,
            };
            let signed = self
                .service
                .sign_user_assertion(&data_plane, input)
                .await
                .map_err(status)?;
            Ok(Response::new(UserAssertion {
                jwt: signed.jwt,
                expires_at: signed.expires_at.timestamp(),
            }))
        })
        .await
    }
}

#[cfg(test)]
mod tests;
