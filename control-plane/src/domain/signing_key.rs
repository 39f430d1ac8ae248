//! Keys the authorization server signs access tokens with (ES256). Each key is an aggregate:
//! created with its public JWK and its private key sealed with the control plane's secret key,
//! then retired when two newer keys exist. The newest unretired key signs; data planes verify
//! with every unretired one.

use mcpgw_shared::{SealedSecret, SigningKeyId, StreamId};
use serde::{Deserialize, Serialize};

use super::{Aggregate, Decision, DomainError, DomainEvent};

/// A signing key's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum SigningKeyEvent {
    /// It was generated.
    #[serde(rename = "SigningKeyCreated")]
    Created {
        /// The key id tokens name in their header.
        kid: String,
        /// The public key as a JWK (RFC 7517).
        public_jwk: serde_json::Value,
        /// The private key (PKCS#8 PEM), sealed with the control plane's secret key.
        sealed_private: SealedSecret,
    },
    /// It no longer signs nor verifies.
    #[serde(rename = "SigningKeyRetired")]
    Retired,
}

impl SigningKeyEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "SigningKeyCreated",
            Self::Retired => "SigningKeyRetired",
        }
    }
}

/// What can be asked of a signing key.
#[derive(Debug, Clone)]
pub enum SigningKeyCommand {
    /// Record a generated key.
    Create {
        /// Its key id.
        kid: String,
        /// Its public JWK.
        public_jwk: serde_json::Value,
        /// Its sealed private key.
        sealed_private: SealedSecret,
    },
    /// Retire it; retiring a retired key changes nothing.
    Retire,
}

/// A signing key's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Whether it was created.
    pub created: bool,
    /// Whether it was retired.
    pub retired: bool,
}

impl Aggregate for SigningKey {
    type Id = SigningKeyId;
    type Event = SigningKeyEvent;
    type Command = SigningKeyCommand;

    fn stream(id: &SigningKeyId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<SigningKeyEvent> {
        match event {
            DomainEvent::SigningKey(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &SigningKeyEvent) {
        match event {
            SigningKeyEvent::Created { .. } => self.created = true,
            SigningKeyEvent::Retired => self.retired = true,
        }
    }

    fn decide(
        &self,
        id: &SigningKeyId,
        command: SigningKeyCommand,
    ) -> Result<Decision<SigningKeyEvent>, DomainError> {
        let events = match command {
            SigningKeyCommand::Create {
                kid,
                public_jwk,
                sealed_private,
            } => {
                if self.created {
                    return Err(DomainError::AlreadyExists {
                        kind: "signing key",
                        id: id.to_string(),
                    });
                }
                if kid.is_empty() {
                    return Err(DomainError::invalid("kid", "a signing key has a key id"));
                }
                // The JWK is published: it must hold no private part (`d`).
                let public = public_jwk
                    .as_object()
                    .is_some_and(|jwk| jwk.get("kty").is_some() && !jwk.contains_key("d"));
                if !public {
                    return Err(DomainError::invalid(
                        "public_jwk",
                        "must be a public JWK (with `kty`, without `d`)",
                    ));
                }
                vec![SigningKeyEvent::Created {
                    kid,
                    public_jwk,
                    sealed_private,
                }]
            }
            SigningKeyCommand::Retire => match (self.created, self.retired) {
                (false, _) => return Err(DomainError::not_found("signing key", id)),
                (true, true) => vec![],
                (true, false) => vec![SigningKeyEvent::Retired],
            },
        };
        // Data planes fetch public keys through the authorization API; no event is sent them.
        Ok(Decision {
            events,
            audience: vec![],
        })
    }
}

#[cfg(test)]
mod tests;
