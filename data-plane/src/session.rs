//! Sealed session ids: the `Mcp-Session-Id` the client holds is an AEAD token that any pod can
//! open, so sessions need no sticky routing and no shared store.
//!
//! Token: `s1.<key id>.<base64url(nonce ‖ ciphertext)>` (visible ASCII only). The plaintext is a
//! small binary record — issue time, the server's `connection_version`, the negotiated protocol
//! version, the principal and the upstream's own session id — sealed with XChaCha20-Poly1305
//! under the first key of `MCPGW_SESSION_KEYS`, with the server id as associated data so a token
//! cannot move to another server. A hand-rolled encoding: it is 20-odd bytes of fixed fields,
//! and a general format would only add size to a header every request carries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcpgw_shared::ServerId;
use mcpgw_shared::secret::{Keyring, NONCE_LEN};

const PREFIX: &str = "s1";
const RECORD_VERSION: u8 = 2;
/// Flag bit: `notifications/initialized` waits for the first GET (see `listen`).
const FLAG_DEFER_INITIALIZED: u8 = 1;
/// Flag bit: the client declared URL elicitation.
const FLAG_URL_ELICITATION: u8 = 2;
/// Longest upstream session id the gateway will carry.
pub const MAX_UPSTREAM_SESSION_LEN: usize = 512;
/// Longest token accepted before any decoding.
pub const MAX_TOKEN_LEN: usize = 1024;

/// Why a session id was refused. All of these answer 404: the client must re-initialize.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not a token this gateway makes, or longer than [`MAX_TOKEN_LEN`].
    #[error("the session id is malformed")]
    Malformed,
    /// It does not authenticate (forged, tampered, another server's, or a retired key).
    #[error("the session id does not authenticate")]
    Unauthentic,
    /// It belongs to another principal.
    #[error("the session belongs to another client")]
    ForeignPrincipal,
    /// It is older than the maximum age.
    #[error("the session is too old")]
    TooOld,
    /// It was made for a server configuration that has since changed.
    #[error("the server's configuration changed since the session started")]
    Stale,
}

/// What a session token holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// When the session was initialized (Unix seconds).
    pub issued_at: u64,
    /// The server's `connection_version` at that time.
    pub connection_version: i64,
    /// The protocol version the upstream negotiated.
    pub protocol_version: String,
    /// Who the session belongs to (see `Principal::session_key`).
    pub principal: String,
    /// The upstream's `Mcp-Session-Id`, if it gave one.
    pub upstream_session: Option<String>,
    /// Whether the client's `notifications/initialized` is held back until its first GET
    /// stream is attached upstream (so nothing the upstream sends in reaction is lost).
    pub defer_initialized: bool,
    /// Whether the client declared URL elicitation: a user who must sign in to the upstream
    /// gets the `-32042` URL elicitation error.
    pub url_elicitation: bool,
}

/// Seals and opens session tokens with a keyring.
#[derive(Clone, Debug)]
pub struct SessionSealer {
    keyring: Keyring,
    max_age: Duration,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn aad(server: &ServerId) -> [u8; 33] {
    let mut aad = [0u8; 33];
    aad[0] = RECORD_VERSION;
    aad[1..17].copy_from_slice(server.as_uuid().as_bytes());
    aad[17..].copy_from_slice(b"mcpgw-session-v1");
    aad
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).expect("session fields are bounded well below 64 KiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], SessionError> {
    if input.len() < n {
        return Err(SessionError::Malformed);
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn take_str(input: &mut &[u8]) -> Result<String, SessionError> {
    let len = u16::from_be_bytes(take(input, 2)?.try_into().expect("two bytes")) as usize;
    String::from_utf8(take(input, len)?.to_vec()).map_err(|_| SessionError::Malformed)
}

impl SessionClaims {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.principal.len());
        out.push(RECORD_VERSION);
        let mut flags = 0;
        if self.defer_initialized {
            flags |= FLAG_DEFER_INITIALIZED;
        }
        if self.url_elicitation {
            flags |= FLAG_URL_ELICITATION;
        }
        out.push(flags);
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        out.extend_from_slice(&self.connection_version.to_be_bytes());
        put_str(&mut out, &self.protocol_version);
        put_str(&mut out, &self.principal);
        put_str(&mut out, self.upstream_session.as_deref().unwrap_or(""));
        out
    }

    fn decode(mut input: &[u8]) -> Result<Self, SessionError> {
        let input = &mut input;
        if take(input, 1)? != [RECORD_VERSION] {
            return Err(SessionError::Malformed);
        }
        let flags = take(input, 1)?[0];
        let issued_at = u64::from_be_bytes(take(input, 8)?.try_into().expect("eight bytes"));
        let connection_version =
            i64::from_be_bytes(take(input, 8)?.try_into().expect("eight bytes"));
        let protocol_version = take_str(input)?;
        let principal = take_str(input)?;
        let upstream = take_str(input)?;
        Ok(Self {
            issued_at,
            connection_version,
            protocol_version,
            principal,
            upstream_session: Some(upstream).filter(|s| !s.is_empty()),
            defer_initialized: flags & FLAG_DEFER_INITIALIZED != 0,
            url_elicitation: flags & FLAG_URL_ELICITATION != 0,
        })
    }
}

impl SessionSealer {
    /// A sealer over `keyring` (the first key seals, all open) whose tokens live `max_age`.
    pub fn new(keyring: Keyring, max_age: Duration) -> Self {
        Self { keyring, max_age }
    }

    /// Claims for a session initialized now.
    pub fn claims(
        connection_version: i64,
        protocol_version: &str,
        principal: &str,
        upstream_session: Option<&str>,
    ) -> SessionClaims {
        SessionClaims {
            issued_at: now_secs(),
            connection_version,
            protocol_version: protocol_version.chars().take(32).collect(),
            principal: principal.to_owned(),
            upstream_session: upstream_session.map(str::to_owned),
            defer_initialized: false,
            url_elicitation: false,
        }
    }

    /// The token for `claims` on `server`.
    pub fn seal(&self, server: &ServerId, claims: &SessionClaims) -> String {
        let (kid, nonce, ciphertext) = self.keyring.seal(&claims.encode(), &aad(server));
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        format!("{PREFIX}.{kid}.{}", URL_SAFE_NO_PAD.encode(blob))
    }

    /// Opens `token` for `server`, checking its age, its principal and that the server's
    /// connection settings have not changed since.
    pub fn open(
        &self,
        token: &str,
        server: &ServerId,
        connection_version: i64,
        principal: &str,
    ) -> Result<SessionClaims, SessionError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(SessionError::Malformed);
        }
        let mut parts = token.splitn(3, '.');
        let (Some(PREFIX), Some(kid), Some(blob)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SessionError::Malformed);
        };
        let blob = URL_SAFE_NO_PAD
            .decode(blob)
            .map_err(|_| SessionError::Malformed)?;
        if blob.len() <= NONCE_LEN {
            return Err(SessionError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().expect("split at the nonce length");
        let plain = self
            .keyring
            .open(kid, nonce, ciphertext, &aad(server))
            .map_err(|_| SessionError::Unauthentic)?;
        let claims = SessionClaims::decode(&plain)?;
        if claims.principal != principal {
            return Err(SessionError::ForeignPrincipal);
        }
        if now_secs().saturating_sub(claims.issued_at) > self.max_age.as_secs() {
            return Err(SessionError::TooOld);
        }
        if claims.connection_version != connection_version {
            return Err(SessionError::Stale);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests;
