//! Common code of the MCP gateway, shared by the control plane and the data plane: ids,
//! credentials, secret encryption, the configuration model, the wire format of change events
//! and the generated config-sync gRPC API.

pub mod bearer;
pub mod bus;
pub mod credential;
pub mod document;
pub mod ids;
pub mod metrics;
pub mod model;
pub mod nats;
pub mod proto;
pub mod redirect_uri;
pub mod request_id;
pub mod request_log;
pub mod secret;
pub mod secret_file;
pub mod signal;
pub mod slug;
pub mod subjects;
pub mod telemetry;
pub mod version;
pub mod wire;

pub use credential::{Credential, CredentialError, CredentialKind};
pub use ids::{
    ApiKeyId, ConnectionId, DataPlaneId, OAuthClientId, OAuthGrantId, ServerId, SigningKeyId,
    StreamId, WorkspaceId,
};
pub use secret::{Redacted, SealedSecret, SecretCipher, SecretError};
pub use slug::{Slug, SlugError};
