//! Training loops on Burn: the masked LM (XLM's MLM objective with stream batching), its
//! optimizer, and embedding initialisation from aligned vectors; the UNMT pieces that need no
//! tensors (XLM's denoising noise, token-count batches, the lambda and learning-rate schedules).

pub mod batches;
pub mod data_parallel;
pub mod device;
pub mod init;
pub mod job;
pub mod masking;
pub mod memory;
pub mod mlm;
pub mod noise;
pub mod optim;
pub mod reload;
pub mod report;
pub mod scaffold;
pub mod schedule;
pub mod stop;
pub mod stream;
pub mod trainable;
pub mod unmt;
