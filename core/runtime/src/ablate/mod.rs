//! `plexus ablate FILE.ablation.yaml`: runs every (variant, seed) of an ablation as a
//! separate `plexus run`, resumably, and writes a statistical report.
//!
//! The sweep folder `ablations/<name>/` holds `ablation.yaml` (a copy of the file),
//! `state/<run>.json` (one per run, written atomically), `logs/<run>.log`,
//! `runs/<variant>/seed<S>/<run folder>/` and the report (see [`report`]). A run whose
//! folder has a complete `summary.json` is never run again; a failed one is skipped
//! until `--retry-failed`.
pub mod launch;
pub mod plan;
pub mod report;
pub mod spec;
pub mod state;

use std::path::PathBuf;

pub use plan::{PlannedRun, Variant};
pub use spec::{AblationSpec, Direction};

use crate::error::{Error, Result};
use state::{RunState, Status};

#[derive(Debug, Clone)]
pub struct AblateOptions {
    pub file: PathBuf,
    pub jobs: usize,
    pub retry_failed: bool,
    /// Where sweep folders are created (`ablations`).
    pub root: PathBuf,
    pub plugin_dirs: Vec<PathBuf>,
    /// The `plexus` binary to run each (variant, seed) with.
    pub plexus: PathBuf,
}

#[derive(Debug)]
pub struct SweepOutcome {
    pub dir: PathBuf,
    pub report: PathBuf,
    pub planned: usize,
    /// Runs started by this invocation (the others were finished before, or failed and
    /// were not retried).
    pub started: usize,
    /// `(run id, error, log path)` of every failed run.
    pub failed: Vec<(String, String, PathBuf)>,
}

/// An exclusive lock on the sweep folder for this process's lifetime (released by the
/// kernel however the process ends), so two sweeps never run the same runs.
fn lock(dir: &std::path::Path) -> Result<std::fs::File> {
    use std::os::unix::io::AsRawFd;
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| Error::io(&path, e))?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(Error::Other(format!("{}: another `plexus ablate` is running on this sweep; wait for it or stop it", dir.display())));
    }
    Ok(file)
}

pub fn ablate(opts: &AblateOptions) -> Result<SweepOutcome> {
    let spec = AblationSpec::load(&opts.file)?;
    let dir = opts.root.join(&spec.name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let text = std::fs::read(&opts.file).map_err(|e| Error::io(&opts.file, e))?;
    crate::run_dir::write_atomic(&dir.join("ablation.yaml"), &text)?;

    let _lock = lock(&dir)?;
    state::remove_stale_temp_files(&dir.join("state"));
    let variants = plan::variants(&spec);
    let runs = plan::runs(&spec, &variants, &dir);
    let metrics: Vec<String> = spec.metrics.iter().map(|(m, _)| m.clone()).collect();
    let mut states = Vec::with_capacity(runs.len());
    let (mut todo, mut done) = (Vec::new(), 0);
    for (i, run) in runs.iter().enumerate() {
        let mut st = RunState::load_or_new(run, &variants[run.variant].name)?;
        if let Some(finished) = state::finished_run(run, &metrics) {
            // Finished, even if the sweep died before recording it: adopt, never redo.
            if st.status != Status::Completed || st.run_dir.as_ref() != Some(&finished) {
                st.status = Status::Completed;
                st.run_dir = Some(finished);
                st.error = None;
                st.save(&run.state)?;
            }
            done += 1;
        } else if st.status == Status::Failed && !opts.retry_failed {
            tracing::warn!("{} failed before: {} (log: {}); not retried without --retry-failed", run.id, st.error.as_deref().unwrap_or("?"), run.log.display());
            done += 1;
        } else {
            todo.push(i);
        }
        states.push(st);
    }
    tracing::info!(
        "ablation {}: {} variants x {} seeds = {} runs; {} to run, {} jobs at a time; folder {}",
        spec.name,
        variants.len(),
        spec.seeds.len(),
        runs.len(),
        todo.len(),
        opts.jobs,
        dir.display()
    );
    let launch = launch::LaunchOptions { jobs: opts.jobs, plugin_dirs: opts.plugin_dirs.clone(), plexus: opts.plexus.clone() };
    launch::run_local(&spec, &runs, &mut states, &todo, done, &launch)?;

    let report = report::write(&spec, &variants, &runs, &states, &dir)?;
    let failed = states.iter().filter(|s| s.status == Status::Failed).map(|s| (s.id.clone(), s.error.clone().unwrap_or_default(), s.log.clone())).collect();
    Ok(SweepOutcome { dir, report, planned: runs.len(), started: todo.len(), failed })
}
