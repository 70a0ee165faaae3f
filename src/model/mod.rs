//! The XLM Transformer in Burn, generic over the backend.
//!
//! `TransformerConfig -> init(&device) -> Transformer`. The encoder is what the masked LM
//! trains; [`TransformerConfig::init_decoder`] gives the same layers a cross-attention block
//! over encoder [`layer::Memory`], and [`Transformer::forward_incremental`] decodes step by
//! step with a [`DecoderCache`] of keys and values, as XLM's generation does. Tensors are
//! batch-first (`[batch, len, ...]`), unlike XLM's `[len, batch]`; the computation is the same.

pub mod attention;
pub mod checkpoint;
pub mod config;
pub mod dropout;
pub mod layer;
pub mod named;
pub mod transformer;

pub use config::TransformerConfig;
pub use transformer::{Batch, DecoderCache, Transformer, TransformerInput};

#[cfg(test)]
mod tests;
