//! The authorization server's secrets as clients hold them: authorization codes
//! (`mcpgw_ac_<grant>_<random>`), refresh tokens (`mcpgw_rt_<grant>_<generation>_<random>`) and
//! client secrets (`mcpgw_cs_<random>`). Only their SHA-256 is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcpgw_shared::OAuthGrantId;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const CODE_PREFIX: &str = "mcpgw_ac_";
const REFRESH_PREFIX: &str = "mcpgw_rt_";
const CLIENT_SECRET_PREFIX: &str = "mcpgw_cs_";

/// A secret handed out once, with the hash that is kept.
pub struct Issued {
    /// The secret.
    pub text: String,
    /// Its SHA-256.
    pub sha256: [u8; 32],
}

impl Issued {
    fn new(text: String) -> Self {
        Self {
            sha256: sha256(&text),
            text,
        }
    }
}

/// SHA-256 of `text`.
pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// 32 random bytes, base64url: 43 characters.
fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new authorization code of `grant`.
pub fn new_code(grant: &OAuthGrantId) -> Issued {
    Issued::new(format!(
        "{CODE_PREFIX}{}_{}",
        grant.as_uuid().simple(),
        random()
    ))
}

/// A new refresh token of `grant`, of `generation`.
pub fn new_refresh_token(grant: &OAuthGrantId, generation: u32) -> Issued {
    Issued::new(format!(
        "{REFRESH_PREFIX}{}_{generation}_{}",
        grant.as_uuid().simple(),
        random()
    ))
}

/// A new client secret.
pub fn new_client_secret() -> Issued {
    Issued::new(format!("{CLIENT_SECRET_PREFIX}{}", random()))
}

/// The grant an authorization code names, if it has the shape of one.
pub fn code_grant(code: &str) -> Option<OAuthGrantId> {
    let (grant, random) = code.strip_prefix(CODE_PREFIX)?.split_once('_')?;
    if random.is_empty() {
        return None;
    }
    Uuid::parse_str(grant).ok().map(OAuthGrantId::from)
}

/// Whether `token` has the shape of a refresh token.
pub fn is_refresh_token(token: &str) -> bool {
    token.starts_with(REFRESH_PREFIX)
}

/// The grant and generation a refresh token names, if it has the shape of one.
pub fn refresh_token_grant(token: &str) -> Option<(OAuthGrantId, u32)> {
    let mut parts = token.strip_prefix(REFRESH_PREFIX)?.splitn(3, '_');
    let grant = Uuid::parse_str(parts.next()?).ok()?;
    let generation = parts.next()?.parse().ok()?;
    parts.next().filter(|random| !random.is_empty())?;
    Some((OAuthGrantId::from(grant), generation))
}

#[cfg(test)]
mod tests;
