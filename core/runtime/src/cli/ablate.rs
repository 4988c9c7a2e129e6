//! `plexus ablate FILE.ablation.yaml [--jobs N] [--launcher local|slurm] [--retry-failed]`
use std::path::PathBuf;
use std::process::ExitCode;

use crate::ablate::{ablate, AblateOptions, Mode};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Launcher {
    /// Child processes on this machine.
    Local,
    /// One Slurm job array (sbatch) and a report job when it has ended.
    Slurm,
}

#[derive(clap::Args)]
pub struct Args {
    /// The ablation file (base script and config, axes, seeds, baseline, metrics).
    pub file: PathBuf,
    /// Runs at a time (local: default 1; slurm: array throttle, default no limit).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value = "local")]
    pub launcher: Launcher,
    /// Run again the runs that failed before (finished runs are never rerun).
    #[arg(long)]
    pub retry_failed: bool,
    /// Where the sweep folder `<name>/` is created.
    #[arg(long, default_value = "ablations")]
    pub out: PathBuf,
    /// Write the report from the runs on disk; start nothing.
    #[arg(long, conflicts_with_all = ["task_run", "retry_failed"])]
    pub report_only: bool,
    /// (Used by the Slurm array script.) Run only this (variant, seed) run.
    #[arg(long, hide = true, value_name = "RUN_ID")]
    pub task_run: Option<String>,
}

pub fn main(args: Args, plugin_dirs: Vec<PathBuf>) -> ExitCode {
    let plexus = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot find the plexus binary to run each variant with: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mode = match (&args.task_run, args.report_only, args.launcher) {
        (Some(id), _, _) => Mode::Task(id.clone()),
        (None, true, _) => Mode::ReportOnly,
        (None, false, Launcher::Slurm) => Mode::Slurm,
        (None, false, Launcher::Local) => Mode::Local,
    };
    let jobs = args.jobs.unwrap_or(if mode == Mode::Slurm { 0 } else { 1 });
    let opts = AblateOptions { file: args.file, mode, jobs, retry_failed: args.retry_failed, root: args.out, plugin_dirs, plexus };
    match ablate(&opts) {
        Ok(outcome) => {
            println!("sweep folder: {} ({} runs, {} run now)", outcome.dir.display(), outcome.planned, outcome.started);
            if let Some((array, report)) = &outcome.slurm_jobs {
                println!("submitted: job array {array}, report job {report} (runs after the array ends)");
                return ExitCode::SUCCESS;
            }
            if let Some(report) = &outcome.report {
                println!("report: {}", report.display());
            }
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
