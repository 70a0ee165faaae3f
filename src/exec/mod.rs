//! Executing a plan: the scheduler, the units of work it hands out, the runners that carry
//! them out, and the events it emits.

mod events;
mod executor;
pub mod job;
pub mod runner;

pub use events::{Event, RunSummary};
pub use executor::{RunOptions, execute};
pub use job::{JobError, JobMessage, NodeJob, exec_node};
pub use runner::Executor;
