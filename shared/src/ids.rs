//! Identifier newtypes. Entity ids are UUIDv7 (time-ordered); API key ids are short lowercase
//! alphanumerics because they are part of the key the user holds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod stream;

pub use stream::StreamId;

/// The text could not be read as an id of the expected kind.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{value}` is not a valid {kind} id")]
pub struct InvalidId {
    /// Which kind of id was expected.
    pub kind: &'static str,
    /// The rejected text.
    pub value: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The id as a UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The event stream that holds this entity's history.
            pub fn stream(&self) -> StreamId {
                StreamId::$variant(*self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| InvalidId {
                    kind: $kind,
                    value: s.chars().take(64).collect(),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

uuid_id!(
    /// Identifies a workspace.
    WorkspaceId,
    Workspace,
    "workspace"
);
uuid_id!(
    /// Identifies a registered MCP server.
    ServerId,
    Server,
    "server"
);
uuid_id!(
    /// Identifies a data-plane registration (one token, any number of instances).
    DataPlaneId,
    DataPlane,
    "data_plane"
);
uuid_id!(
    /// Identifies one user's connection to a per-user OAuth server: its sealed tokens.
    ConnectionId,
    Connection,
    "connection"
);

uuid_id!(
    /// Identifies a client registered with the gateway's OAuth authorization server.
    OAuthClientId,
    OAuthClient,
    "oauth_client"
);
uuid_id!(
    /// Identifies one user's consent to one client: its authorization code and refresh-token
    /// family.
    OAuthGrantId,
    OAuthGrant,
    "oauth_grant"
);
uuid_id!(
    /// Identifies a key the authorization server signs access tokens with.
    SigningKeyId,
    SigningKey,
    "signing_key"
);

impl ConnectionId {
    /// The connection of `user` to `server`: the same id on every control and data plane, so
    /// two pods that sign the same user in write to one stream (and the second one conflicts).
    pub fn of(server: &ServerId, user: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"mcpgw connection\0")
            .chain_update(server.as_uuid().as_bytes())
            .chain_update(user.as_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(Uuid::new_v8(bytes))
    }
}

/// Identifies an API key: 8 to 16 lowercase letters and digits, the public part of the key.
/// Held inline (no heap): a data plane keeps one for every key of its workspaces.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiKeyId {
    len: u8,
    bytes: [u8; ApiKeyId::MAX_LEN],
}

impl ApiKeyId {
    /// Length of generated ids.
    const GENERATED_LEN: usize = 12;
    /// Shortest id.
    const MIN_LEN: usize = 8;
    /// Longest id.
    const MAX_LEN: usize = 16;

    /// A new random id.
    pub fn generate() -> Self {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        let mut bytes = [0; Self::MAX_LEN];
        for byte in &mut bytes[..Self::GENERATED_LEN] {
            *byte = ALPHABET[rng.random_range(0..ALPHABET.len())];
        }
        Self {
            len: Self::GENERATED_LEN as u8,
            bytes,
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)])
            .expect("ids are checked ASCII when made")
    }

    /// The event stream that holds this key's history.
    pub fn stream(&self) -> StreamId {
        StreamId::ApiKey(*self)
    }
}

impl FromStr for ApiKeyId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = (Self::MIN_LEN..=Self::MAX_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(InvalidId {
                kind: "api key",
                value: s.chars().take(64).collect(),
            });
        }
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Self {
            len: s.len() as u8,
            bytes,
        })
    }
}

impl TryFrom<String> for ApiKeyId {
    type Error = InvalidId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ApiKeyId> for String {
    fn from(value: ApiKeyId) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeyId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests;
