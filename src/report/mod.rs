//! Turning executor events into what people and scripts read.

mod human;
mod json;

pub use human::Human;
pub use json::JsonLines;
