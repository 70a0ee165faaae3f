//! The content-addressed cache: node keys, published node results, locks, attempts, hashes.

pub mod file_hash;
mod gc;
mod key;
mod record;
mod store;
mod verify;

pub use gc::{Debris, GcReport, KeepSet, Reclaimed, gc};
pub use key::{ContentHash, ENGINE_FORMAT, KeyMaterial, NodeKey};
pub use record::{
    InputOrigin, NodeRecord, OutputDecl, OutputKind, OutputRecord, RECORD_FORMAT, RecordError,
};
pub use store::{Attempt, Cache, CacheError, CacheStatus, CacheUse, Draft, NameRef, external_hash};
pub use verify::{Depth, Finding, Problem, VerifyReport};
