//! The domain as pure decisions: each aggregate folds its own events into a state, and each of
//! its commands is decided against that state into new events (and the workspaces they
//! concern) or an error. Nothing here does I/O.

pub mod actor;
pub mod api_key;
pub mod connection;
pub mod data_plane;
mod error;
pub mod events;
mod hex_hash;
pub mod oauth_client;
pub mod oauth_grant;
pub mod oauth_scope;
pub mod server;
pub mod signing_key;
pub mod workspace;

use mcpgw_shared::StreamId;
use mcpgw_shared::wire::Audience;

pub use actor::Actor;
pub use error::DomainError;
pub use events::{DecodeError, DomainEvent};

/// What a command decided: the events to record, in order, and every audience they concern
/// (where they are published). No events: the command changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<E> {
    /// The events.
    pub events: Vec<E>,
    /// Who the change concerns, taken from the aggregate's state before and after.
    pub audience: Vec<Audience>,
}

impl<E> Decision<E> {
    /// A decision that records nothing.
    pub fn nothing() -> Self {
        Self {
            events: Vec::new(),
            audience: Vec::new(),
        }
    }
}

/// An aggregate: a state rebuilt by folding the events of its stream, and the decisions its
/// commands lead to.
pub trait Aggregate: Default {
    /// Its id.
    type Id;
    /// Its events (one enum, so folding them is exhaustive).
    type Event: Clone + Into<DomainEvent>;
    /// Its commands.
    type Command: Clone;

    /// The stream that holds the history of the aggregate `id`.
    fn stream(id: &Self::Id) -> StreamId;

    /// This aggregate's event in a stored event, `None` if it is another aggregate's.
    fn own(event: DomainEvent) -> Option<Self::Event>;

    /// Applies one event of this aggregate's stream.
    fn apply(&mut self, event: &Self::Event);

    /// Decides `command` for the aggregate `id` in this state.
    fn decide(
        &self,
        id: &Self::Id,
        command: Self::Command,
    ) -> Result<Decision<Self::Event>, DomainError>;

    /// Folds a whole stream.
    fn from_events<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }
}
