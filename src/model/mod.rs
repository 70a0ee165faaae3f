//! The XLM Transformer in Burn, generic over the backend.
//!
//! `TransformerConfig -> init(&device) -> Transformer`. The encoder is what the masked LM
//! trains; layers take an optional cross-attention block and encoder [`layer::Memory`] so the
//! UNMT decoder reuses them unchanged. Tensors are batch-first (`[batch, len, ...]`), unlike
//! XLM's `[len, batch]`; the computation is the same.

pub mod attention;
pub mod checkpoint;
pub mod config;
pub mod layer;
pub mod transformer;

pub use config::TransformerConfig;
pub use transformer::{Batch, Transformer};

#[cfg(test)]
mod tests;
