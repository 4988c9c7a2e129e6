//! `plexus run SCRIPT --config FILE [key=value ...]`
use std::path::PathBuf;
use std::process::ExitCode;

use crate::runner::{run, RunOptions};

#[derive(clap::Args)]
pub struct Args {
    pub script: PathBuf,
    #[arg(long)]
    pub config: PathBuf,
    /// `key.path=value` (the file must have the key) or `+key.path=value` (adds it).
    pub overrides: Vec<String>,
    /// Where run folders are created.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

pub fn main(args: Args, plugin_dirs: Vec<PathBuf>) -> ExitCode {
    let opts = RunOptions {
        script: args.script,
        config: args.config,
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
