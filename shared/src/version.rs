//! The version-skew policy, which both planes apply (the data plane at sync, the control plane
//! in its fleet view): control planes are upgraded first, so a data plane may run an
//! older version than its control plane, never a newer minor (or major) version. A newer data
//! plane could rely on fields or behaviour its control plane does not have yet.

use semver::Version;

/// This build's version (both planes are released together).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The data plane is newer than its control plane.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this data plane ({data_plane}) is newer than its control plane ({control_plane}): upgrade the control plane first, or run a data plane of version {control_plane} or older"
)]
pub struct VersionSkew {
    /// This data plane's version.
    pub data_plane: String,
    /// The control plane's version.
    pub control_plane: String,
}

/// Whether a data plane of `data_plane` may run against a control plane of `control_plane`.
/// A control plane that does not say its version (older than this check) or says something
/// that is not a version passes: refusing it would stop a fleet for a field.
pub fn check(data_plane: &str, control_plane: &str) -> Result<(), VersionSkew> {
    let (Ok(ours), Ok(theirs)) = (Version::parse(data_plane), Version::parse(control_plane)) else {
        tracing::debug!(
            data_plane,
            control_plane,
            "versions that are not semantic versions are not compared"
        );
        return Ok(());
    };
    if (ours.major, ours.minor) > (theirs.major, theirs.minor) {
        return Err(VersionSkew {
            data_plane: data_plane.to_owned(),
            control_plane: control_plane.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
