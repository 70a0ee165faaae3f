//! Executing a plan: the scheduler, the stage context, and the events it emits.

mod context;
mod events;
mod executor;

pub use context::{ProgressSink, StageCtx};
pub use events::{Event, RunSummary};
pub use executor::{RunOptions, execute};
