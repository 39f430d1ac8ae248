//! Upcasting: events stored by an older release, in an older shape, read as the current one.
//! Each change of an event's shape bumps that event type's schema version and adds one step
//! here, from the version before to the new one; a stored event goes through every step from
//! its version to the current. Events are never rewritten in the log.

use mcpgw_shared::model::RequestLogging;
use serde_json::Value;

/// The schema version this release writes for `event_type`.
pub fn current_version(event_type: &str) -> i64 {
    match event_type {
        // v2: `request_logging` (the request-log policy) is part of the registration.
        "ServerRegistered" => 2,
        _ => 1,
    }
}

/// A stored event this release cannot read in its current shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UpcastError {
    /// Written by a newer release.
    #[error(
        "it was written by a newer release (schema v{stored}; this release reads up to v{current}): run the newer release, or restore the database it was upgraded from"
    )]
    Newer {
        /// The stored version.
        stored: i64,
        /// The newest this release knows.
        current: i64,
    },
    /// A version that never existed.
    #[error("schema v{0} never existed")]
    Invalid(i64),
    /// The payload is not an object where a step needs one.
    #[error("the v{0} payload is not a JSON object")]
    NotAnObject(i64),
}

/// Brings `payload`, stored as `event_type` at `stored`, to the current version.
pub fn upcast(event_type: &str, stored: i64, mut payload: Value) -> Result<Value, UpcastError> {
    let current = current_version(event_type);
    if stored > current {
        return Err(UpcastError::Newer { stored, current });
    }
    if stored < 1 {
        return Err(UpcastError::Invalid(stored));
    }
    for from in stored..current {
        payload = step(event_type, from, payload)?;
    }
    Ok(payload)
}

/// One step, from `from` to `from + 1`.
fn step(event_type: &str, from: i64, mut payload: Value) -> Result<Value, UpcastError> {
    match (event_type, from) {
        ("ServerRegistered", 1) => {
            // Servers registered before the request log kept metadata only.
            let object = payload
                .as_object_mut()
                .ok_or(UpcastError::NotAnObject(from))?;
            let policy = serde_json::to_value(RequestLogging::default())
                .expect("the request-logging policy serializes");
            object.insert("request_logging".to_owned(), policy);
            Ok(payload)
        }
        _ => Ok(payload),
    }
}
