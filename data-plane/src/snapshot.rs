//! The data plane's in-memory copy of its configuration: an immutable [`Config`] swapped
//! atomically by one [`ConfigUpdater`], read lock-free through [`ConfigStore`] handles, with
//! every applied change announced as a [`ChangeSet`] so enforcement can act on it. Applying a
//! change builds what requests need at once: [`Route`]s for servers, compact [`KeyRecord`]s
//! for keys.

mod apply;
mod change;
mod grant;
mod key;
mod route;
mod sharded;
mod store;
mod tool_policy;
mod view;

pub use apply::ApplyError;
pub use change::{Change, ChangeSet, ServerChange};
pub use grant::Grant;
pub use key::{KeyRecord, Permissions};
pub use route::{IdentityHeader, Route};
pub use store::{ConfigStore, ConfigUpdater};
pub use tool_policy::{Hidden, Owner, ToolAnnotations, ToolPolicy};
pub use view::{Config, Workspace};
