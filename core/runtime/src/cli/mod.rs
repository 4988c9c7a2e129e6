//! Subcommands of the `plexus` binary, one module each; `main.rs` only dispatches.
pub mod ablate;
pub mod analyze;
pub mod check;
pub mod data;
pub mod embed;
pub mod new_plugin;
pub mod plugins;
pub mod run;
pub mod runs;
pub mod score;
