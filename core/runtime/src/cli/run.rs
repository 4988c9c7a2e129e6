//! `plexus run SCRIPT --config FILE [key=value ...]`
use std::path::PathBuf;
use std::process::ExitCode;

use crate::runner::{run, RunOptions};

#[derive(clap::Args)]
pub struct Args {
    #[arg(required_unless_present = "resume")]
    pub script: Option<PathBuf>,
    #[arg(long, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// Continue RUN_DIR from its last checkpoint, with its own script and config.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["script", "config", "overrides"])]
    pub resume: Option<PathBuf>,
    /// `key.path=value` (the file must have the key) or `+key.path=value` (adds it).
    pub overrides: Vec<String>,
    /// Where run folders are created.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

pub fn main(args: Args, plugin_dirs: Vec<PathBuf>) -> ExitCode {
    let opts = RunOptions {
        script: args.script.unwrap_or_default(),
        config: args.config.unwrap_or_default(),
        resume: args.resume,
        overrides: args.overrides,
        runs_dir: args.runs_dir,
        plugin_dirs,
        ..Default::default()
    };
    match run(&opts) {
        Ok(outcome) => {
            println!("run folder: {}", outcome.dir.display());
            for (k, v) in &outcome.metrics {
                println!("  {k:<24} {v}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
