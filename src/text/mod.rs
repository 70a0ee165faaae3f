//! Text preprocessing of the XLM / RE-LM pipeline: the Moses normalization / tokenization /
//! detokenization chain (`moses`), fastBPE-compatible subword segmentation (`bpe`), XLM's
//! dictionary with RE-LM vocabulary extension (`dictionary`) and the binarized,
//! memory-mapped dataset format the trainers read (`binarized`).
pub mod binarized;
pub mod bpe;
pub mod dictionary;
pub mod moses;
