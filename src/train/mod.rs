//! Training loops on Burn: the masked LM (XLM's MLM objective with stream batching), its
//! optimizer, and embedding initialisation from aligned vectors.

pub mod init;
pub mod job;
pub mod masking;
pub mod mlm;
pub mod optim;
pub mod stream;
