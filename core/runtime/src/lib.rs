//! # plexus — the host
//!
//! Loads component plugins, runs Rhai experiment scripts against YAML configs, trains
//! and evaluates on libtorch, and records every run. The binary is `plexus`; this
//! library is what it and the integration tests call.
pub mod ablate;
pub mod allocator;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod logging;
pub mod manifest;
pub mod model;
pub mod optim;
pub mod plugins;
pub mod run_dir;
pub mod runner;
pub mod script;
pub mod tracking;
pub mod train;

pub use error::{Error, Result};
