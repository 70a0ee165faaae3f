//! The content-addressed cache: published node results, locks, attempts, hashes.

pub mod atomic;
pub mod file_hash;
mod gc;
mod record;
mod store;

pub use gc::{GcReport, gc};
pub use record::{InputOrigin, NodeRecord, OutputRecord, RECORD_FORMAT, RecordError};
pub use store::{Attempt, Cache, CacheError, CacheStatus, Draft, NameRef, external_hash};
