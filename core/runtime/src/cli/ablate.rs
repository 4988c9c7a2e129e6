//! `plexus ablate FILE.ablation.yaml [--jobs N] [--launcher local] [--retry-failed]`
use std::path::PathBuf;
use std::process::ExitCode;

use crate::ablate::{ablate, AblateOptions};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Launcher {
    /// Child processes on this machine.
    Local,
}

#[derive(clap::Args)]
pub struct Args {
    /// The ablation file (base script and config, axes, seeds, baseline, metrics).
    pub file: PathBuf,
    /// Runs at a time.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    #[arg(long, value_enum, default_value = "local")]
    pub launcher: Launcher,
    /// Run again the runs that failed before (finished runs are never rerun).
    #[arg(long)]
    pub retry_failed: bool,
    /// Where the sweep folder `<name>/` is created.
    #[arg(long, default_value = "ablations")]
    pub out: PathBuf,
}

pub fn main(args: Args, plugin_dirs: Vec<PathBuf>) -> ExitCode {
    let plexus = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot find the plexus binary to run each variant with: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Launcher::Local = args.launcher;
    let opts = AblateOptions { file: args.file, jobs: args.jobs, retry_failed: args.retry_failed, root: args.out, plugin_dirs, plexus };
    match ablate(&opts) {
        Ok(outcome) => {
            println!("sweep folder: {} ({} runs, {} run now)", outcome.dir.display(), outcome.planned, outcome.started);
            println!("report: {}", outcome.report.display());
            if outcome.failed.is_empty() {
                return ExitCode::SUCCESS;
            }
            eprintln!("{} run(s) failed; the report covers the others. Retry with --retry-failed:", outcome.failed.len());
            for (id, error, log) in &outcome.failed {
                eprintln!("  {id}: {error} (log: {})", log.display());
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
