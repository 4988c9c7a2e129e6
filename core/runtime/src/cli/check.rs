//! `plexus check SCRIPT --config FILE [key=value ...]`: validates the script, the config
//! and the plugins, builds every component and runs one tiny batch per training call,
//! without writing a run folder. Prints what would run; exits non-zero on any problem.
use std::path::PathBuf;
use std::process::ExitCode;

use crate::runner::{run, RunOptions};

#[derive(clap::Args)]
pub struct Args {
    pub script: PathBuf,
    #[arg(long)]
    pub config: PathBuf,
    pub overrides: Vec<String>,
}

pub fn main(args: Args, plugin_dirs: Vec<PathBuf>) -> ExitCode {
    let opts = RunOptions {
        script: args.script.clone(),
        config: args.config.clone(),
        overrides: args.overrides,
        plugin_dirs,
        check: true,
        ..Default::default()
    };
    match run(&opts) {
        Ok(outcome) => {
            println!("check passed: {} with {}", args.script.display(), args.config.display());
            for line in &outcome.report {
                println!("  {line}");
            }
            println!("  (one step per training call and {} examples per dataset were run)", 64);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("check failed: {e}");
            ExitCode::FAILURE
        }
    }
}
