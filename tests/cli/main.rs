//! Integration tests: the real `unmt` binary on tiny recipes in temporary directories.
//! One test binary (like `just`'s suite) to keep link time down.

mod common;

mod bad_input;
mod commands;
mod diagnostics;
mod engine;
mod executors;
mod failure;
mod gc;
mod mlm;
mod quickstart;
mod recipes;
mod relm;
mod report;
mod slurm;
mod stage_errors;
mod stages;
mod unmt;
