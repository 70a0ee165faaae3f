//! The node graph of one plan: the recipe's nodes plus the sweep variants the plan asks for.
//!
//! A variant overrides some parameters; the overridden nodes and everything downstream of
//! them are copied under names like `mlm[mlm.freeze_embeddings=true]`, while every node
//! upstream is shared. Identical nodes are therefore built once per sweep, and the cache
//! dedups any remaining identical work by key.

mod build;
mod facts;
mod render;
mod targets;

pub use crate::glob::glob;
pub use build::{Graph, GraphNode, PlanChoice, Source, build, build_all_plans, recipe_scope};
pub use render::{Format, render};
pub use targets::NoMatch;
