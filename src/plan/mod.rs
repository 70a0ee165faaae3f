//! The dry-run plan, and "why does this rerun?".

pub mod explain;
mod model_files;
mod planner;
mod why;

pub use explain::{Change, Current, diff};
pub use model_files::{FoundModel, ModelFilesError, find_model};
pub use planner::{
    Action, InputState, Inputs, Known, Plan, PlannedNode, make, resolve_inputs, why_run,
};
pub use why::{Explanation, LastRun, Reach, explain, reachable};
