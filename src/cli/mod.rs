//! The `unmt` command line: argument types and dispatch. Each command lives in its own
//! module and returns an exit code; errors are rendered once, by `main`.

mod args;
mod commands;

pub use args::{Cli, Command};
pub use commands::run;
