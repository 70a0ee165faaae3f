//! Node keys, the dry-run plan, and "why does this rerun?".

pub mod explain;
mod key;
mod planner;

pub use explain::{Change, Current, diff};
pub use key::{ContentHash, ENGINE_FORMAT, KeyMaterial, NodeKey};
pub use planner::{
    Action, InputState, Inputs, Known, Plan, PlannedNode, make, resolve_inputs, why_run,
};
