//! `unmt`: a workflow engine for unsupervised machine translation research.
//!
//! A recipe (TOML) names nodes, each running a stage kind on inputs produced by other nodes
//! or read from files. The data flow through the crate mirrors a run:
//!
//! ```text
//! recipe file --recipe::load--> Recipe --graph::build--> Graph --plan::make--> Plan
//!      --exec::execute--> Events --report--> progress bars / JSON lines / summary
//!                           |
//!                           +-- per node: key = blake3(KeyMaterial) -> cache::Cache::begin
//!                               Hit(record) => reuse | Miss(Attempt) => stage run -> publish
//! ```
//!
//! See `ARCHITECTURE.md` for the invariants.

pub mod backend;
pub mod cache;
pub mod cli;
pub mod embed;
pub mod error;
pub mod exec;
pub mod glob;
pub mod graph;
pub mod io;
#[cfg(test)]
mod layers;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod recipe;
pub mod report;
pub mod results;
pub mod stages;
pub mod text;
pub mod train;
pub mod validate;

pub use error::Error;
