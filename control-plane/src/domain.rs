//! The domain as pure decisions: each aggregate folds its events into a state, and each command
//! is decided against that state into new events or an error. Nothing here does I/O.

pub mod api_key;
pub mod data_plane;
mod error;
pub mod events;
pub mod server;
pub mod workspace;

pub use error::DomainError;
pub use events::DomainEvent;

/// An aggregate: a state rebuilt by folding the events of its stream.
pub trait Aggregate: Default {
    /// Applies one event of this aggregate's stream.
    fn apply(&mut self, event: &DomainEvent);

    /// Folds a whole stream.
    fn from_events<'a>(events: impl IntoIterator<Item = &'a DomainEvent>) -> Self {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }
}
