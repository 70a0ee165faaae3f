//! Executing a plan: the scheduler and the events it emits.

mod events;
mod executor;

pub use events::{Event, RunSummary};
pub use executor::{RunOptions, execute};
