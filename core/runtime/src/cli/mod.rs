//! Subcommands of the `plexus` binary, one module each; `main.rs` only dispatches.
pub mod plugins;
pub mod run;
