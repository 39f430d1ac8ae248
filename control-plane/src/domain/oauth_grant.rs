//! OAuth grants: one user's consent to one client for one server. A grant starts as a
//! single-use authorization code; redeeming it starts a family of refresh tokens, each used
//! once. Codes and refresh tokens are kept as SHA-256 hashes; presenting a code twice, or a
//! refresh token of an earlier generation, revokes the grant (RFC 9700 §2.2.2, §4.14).

pub mod pkce;
mod refusal;

use chrono::{DateTime, Utc};
use mcpgw_shared::wire::Audience;
use mcpgw_shared::{OAuthGrantId, ServerId, StreamId, WorkspaceId};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

pub use refusal::{TokenError, TokenRefusal};

use super::{Aggregate, Decision, DomainError, DomainEvent, oauth_scope};

/// Why a grant is revoked when its code is presented a second time.
pub const CODE_REUSE: &str = "authorization code reuse";
/// Why a grant is revoked when a refresh token of an earlier generation is presented.
pub const REFRESH_REUSE: &str = "refresh token reuse";

/// A grant's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum OAuthGrantEvent {
    /// The user consented; a code was issued.
    #[serde(rename = "OAuthGrantIssued")]
    Issued(IssuedGrant),
    /// The code was redeemed for the first refresh token.
    #[serde(rename = "OAuthCodeRedeemed")]
    CodeRedeemed(RefreshIssued),
    /// A refresh token was used and replaced by the next generation.
    #[serde(rename = "OAuthRefreshRotated")]
    RefreshRotated(RefreshIssued),
    /// The grant was revoked: its refresh tokens no longer work.
    #[serde(rename = "OAuthGrantRevoked")]
    Revoked {
        /// Why.
        reason: String,
    },
}

impl OAuthGrantEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Issued(_) => "OAuthGrantIssued",
            Self::CodeRedeemed(_) => "OAuthCodeRedeemed",
            Self::RefreshRotated(_) => "OAuthRefreshRotated",
            Self::Revoked { .. } => "OAuthGrantRevoked",
        }
    }
}

/// What a user consented to, and the code that proves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedGrant {
    /// The client: a registered client's id, or a Client ID Metadata Document URL.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The workspace the user signed in to.
    pub workspace_id: WorkspaceId,
    /// The server the tokens are for.
    pub server_id: ServerId,
    /// The server's canonical URL: the tokens' audience.
    pub resource: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// Where the code was sent.
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// SHA-256 of the code (hex in the stored payload).
    #[serde(with = "super::hex_hash")]
    pub code_sha256: [u8; 32],
    /// When the code stops working.
    pub code_expires_at: DateTime<Utc>,
    /// The issuer of the tokens (the data plane's public base URL).
    pub issuer: String,
}

/// A refresh token issued: its hash, generation and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshIssued {
    /// SHA-256 of the refresh token (hex in the stored payload).
    #[serde(with = "super::hex_hash")]
    pub refresh_sha256: [u8; 32],
    /// 1 for the token the code was redeemed for, one more on every rotation.
    pub generation: u32,
    /// When it stops working unless used.
    pub refresh_expires_at: DateTime<Utc>,
}

/// What can be asked of a grant.
#[derive(Debug, Clone)]
pub enum OAuthGrantCommand {
    /// Record the consent and its code.
    Issue(IssuedGrant),
    /// Redeem the code for the first refresh token.
    Redeem(Redemption),
    /// Use the current refresh token for the next one.
    Refresh(Refresh),
    /// Revoke the grant; revoking a revoked grant changes nothing.
    Revoke {
        /// Why.
        reason: String,
    },
}

/// A token request with an authorization code (the client authenticated already).
#[derive(Debug, Clone)]
pub struct Redemption {
    /// SHA-256 of the presented code.
    pub code_sha256: [u8; 32],
    /// The client that presents it.
    pub client_id: String,
    /// The redirect URI it names.
    pub redirect_uri: String,
    /// The PKCE verifier.
    pub code_verifier: String,
    /// The resource it names (empty: none).
    pub resource: String,
    /// The first refresh token of the family (generation 1).
    pub next: RefreshIssued,
    /// The time of the request.
    pub now: DateTime<Utc>,
}

/// A token request with a refresh token (the client authenticated already).
#[derive(Debug, Clone)]
pub struct Refresh {
    /// SHA-256 of the presented refresh token.
    pub refresh_sha256: [u8; 32],
    /// The client that presents it.
    pub client_id: String,
    /// The scopes asked for, space-separated (empty: all granted).
    pub scope: String,
    /// The refresh token that replaces it (the next generation).
    pub next: RefreshIssued,
    /// The time of the request.
    pub now: DateTime<Utc>,
}

/// A grant's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OAuthGrant {
    /// The consent, once issued.
    pub issued: Option<IssuedGrant>,
    /// The current refresh token, once the code was redeemed.
    pub refresh: Option<RefreshIssued>,
    /// Hashes of the refresh tokens rotated away: presenting one is reuse.
    pub earlier_refresh: Vec<[u8; 32]>,
    /// Why it was revoked, if it was.
    pub revoked: Option<String>,
}

impl OAuthGrant {
    /// Whether `hash` is the current refresh token's.
    pub fn is_current_refresh(&self, hash: &[u8; 32]) -> bool {
        self.refresh
            .as_ref()
            .is_some_and(|r| same(&r.refresh_sha256, hash))
    }

    /// Whether `hash` is a refresh token of an earlier generation.
    pub fn is_earlier_refresh(&self, hash: &[u8; 32]) -> bool {
        self.earlier_refresh.iter().any(|h| same(h, hash))
    }

    /// The grant while it is neither unknown nor revoked.
    pub fn active(&self) -> Option<&IssuedGrant> {
        self.issued.as_ref().filter(|_| self.revoked.is_none())
    }
}

/// Constant-time equality of two hashes.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a.ct_eq(b))
}

impl Aggregate for OAuthGrant {
    type Id = OAuthGrantId;
    type Event = OAuthGrantEvent;
    type Command = OAuthGrantCommand;

    fn stream(id: &OAuthGrantId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<OAuthGrantEvent> {
        match event {
            DomainEvent::OAuthGrant(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &OAuthGrantEvent) {
        match event {
            OAuthGrantEvent::Issued(issued) => self.issued = Some(issued.clone()),
            OAuthGrantEvent::CodeRedeemed(refresh) | OAuthGrantEvent::RefreshRotated(refresh) => {
                if let Some(previous) = self.refresh.replace(refresh.clone()) {
                    self.earlier_refresh.push(previous.refresh_sha256);
                }
            }
            OAuthGrantEvent::Revoked { reason } => self.revoked = Some(reason.clone()),
        }
    }

    fn decide(
        &self,
        id: &OAuthGrantId,
        command: OAuthGrantCommand,
    ) -> Result<Decision<OAuthGrantEvent>, DomainError> {
        let (events, audience) = match command {
            OAuthGrantCommand::Issue(issued) => (self.issue(id, issued)?, vec![]),
            OAuthGrantCommand::Redeem(redemption) => (self.redeem(redemption)?, vec![]),
            OAuthGrantCommand::Refresh(refresh) => (self.refresh(refresh)?, vec![]),
            OAuthGrantCommand::Revoke { reason } => match (&self.issued, &self.revoked) {
                (None, _) => return Err(DomainError::not_found("oauth grant", id)),
                (Some(_), Some(_)) => (vec![], vec![]),
                // The workspace's data planes refuse the grant's unexpired access tokens.
                (Some(issued), None) => (
                    vec![OAuthGrantEvent::Revoked { reason }],
                    vec![Audience::Workspace(issued.workspace_id)],
                ),
            },
        };
        // Issuing and refreshing are the authorization server's business: data planes verify
        // the tokens by signature, and hear of a grant only when it is revoked.
        Ok(Decision { events, audience })
    }
}

impl OAuthGrant {
    fn issue(
        &self,
        id: &OAuthGrantId,
        issued: IssuedGrant,
    ) -> Result<Vec<OAuthGrantEvent>, DomainError> {
        if self.issued.is_some() {
            return Err(DomainError::AlreadyExists {
                kind: "oauth grant",
                id: id.to_string(),
            });
        }
        if issued.user_id.is_empty() || issued.user_id.len() > 256 {
            return Err(DomainError::invalid(
                "user_id",
                "must be 1 to 256 characters",
            ));
        }
        if oauth_scope::parse("scope", &issued.scope)?.is_empty() {
            return Err(DomainError::invalid("scope", "grant at least one scope"));
        }
        if !pkce::is_challenge(&issued.code_challenge) {
            return Err(DomainError::invalid(
                "code_challenge",
                "must be an S256 challenge: 43 characters of base64url",
            ));
        }
        for (field, value) in [
            ("client_id", &issued.client_id),
            ("redirect_uri", &issued.redirect_uri),
            ("resource", &issued.resource),
            ("issuer", &issued.issuer),
        ] {
            if value.is_empty() {
                return Err(DomainError::invalid(field, "must not be empty"));
            }
        }
        Ok(vec![OAuthGrantEvent::Issued(issued)])
    }

    fn redeem(&self, redemption: Redemption) -> Result<Vec<OAuthGrantEvent>, TokenRefusal> {
        let grant = self
            .issued
            .as_ref()
            .filter(|g| same(&g.code_sha256, &redemption.code_sha256))
            .ok_or_else(|| TokenRefusal::invalid_grant("the authorization code is not valid"))?;
        if self.revoked.is_some() {
            return Err(self.revoked_refusal());
        }
        if self.refresh.is_some() {
            return Ok(vec![OAuthGrantEvent::Revoked {
                reason: CODE_REUSE.to_owned(),
            }]);
        }
        if redemption.now >= grant.code_expires_at {
            return Err(TokenRefusal::invalid_grant(
                "the authorization code expired: authorize again",
            ));
        }
        if redemption.client_id != grant.client_id {
            return Err(TokenRefusal::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if redemption.redirect_uri != grant.redirect_uri {
            return Err(TokenRefusal::invalid_grant(
                "redirect_uri must be the one of the authorization request",
            ));
        }
        if !pkce::is_verifier(&redemption.code_verifier) {
            return Err(TokenRefusal::invalid_grant(
                "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]",
            ));
        }
        if !pkce::verifies(&redemption.code_verifier, &grant.code_challenge) {
            return Err(TokenRefusal::invalid_grant(
                "code_verifier does not match the code challenge",
            ));
        }
        check_resource(grant, &redemption.resource)?;
        if redemption.next.generation != 1 {
            return Err(TokenRefusal::invalid_grant(
                "the first refresh token is of generation 1",
            ));
        }
        Ok(vec![OAuthGrantEvent::CodeRedeemed(redemption.next)])
    }

    fn refresh(&self, refresh: Refresh) -> Result<Vec<OAuthGrantEvent>, TokenRefusal> {
        let grant = self
            .issued
            .as_ref()
            .ok_or_else(|| TokenRefusal::invalid_grant("the refresh token is not valid"))?;
        let reused = self.is_earlier_refresh(&refresh.refresh_sha256);
        if !reused && !self.is_current_refresh(&refresh.refresh_sha256) {
            return Err(TokenRefusal::invalid_grant(
                "the refresh token is not valid",
            ));
        }
        if self.revoked.is_some() {
            return Err(self.revoked_refusal());
        }
        if reused {
            return Ok(vec![OAuthGrantEvent::Revoked {
                reason: REFRESH_REUSE.to_owned(),
            }]);
        }
        let current = self.refresh.as_ref().expect("the token is the current one");
        if refresh.client_id != grant.client_id {
            return Err(TokenRefusal::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        if refresh.now >= current.refresh_expires_at {
            return Err(TokenRefusal::invalid_grant(
                "the refresh token expired: authorize again",
            ));
        }
        if !oauth_scope::covers(&grant.scope, &refresh.scope)
            || oauth_scope::parse("scope", &refresh.scope).is_err()
        {
            return Err(TokenRefusal::new(
                TokenError::InvalidScope,
                format!("scope must be a subset of the granted `{}`", grant.scope),
            ));
        }
        if refresh.next.generation != current.generation + 1 {
            return Err(TokenRefusal::invalid_grant(
                "the refresh token was used concurrently: authorize again",
            ));
        }
        Ok(vec![OAuthGrantEvent::RefreshRotated(refresh.next)])
    }

    fn revoked_refusal(&self) -> TokenRefusal {
        match self.revoked.as_deref() {
            Some(CODE_REUSE) => TokenRefusal::invalid_grant(
                "the authorization code was already used; the tokens issued for it are revoked",
            ),
            Some(reason) => TokenRefusal::invalid_grant(format!(
                "the grant was revoked ({reason}): authorize again"
            )),
            None => TokenRefusal::invalid_grant("the grant is not valid"),
        }
    }
}

/// A named resource must be the grant's (RFC 8707).
fn check_resource(grant: &IssuedGrant, resource: &str) -> Result<(), TokenRefusal> {
    if resource.is_empty() || resource == grant.resource {
        Ok(())
    } else {
        Err(TokenRefusal::new(
            TokenError::InvalidTarget,
            format!("resource must be `{}`, the one authorized", grant.resource),
        ))
    }
}

#[cfg(test)]
mod tests;
