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
pub mod slurm;
pub mod spec;
pub mod state;

use std::path::PathBuf;

pub use plan::{PlannedRun, Variant};
pub use spec::{AblationSpec, Direction};

use crate::error::{Error, Result};
use state::{RunState, Status};

/// How the runs of a sweep are executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Child processes on this machine, `jobs` at a time (at least 1); the report follows.
    Local,
    /// Submit one Slurm job array (`jobs` tasks at a time, 0 = no limit) and a report job
    /// after it, and return.
    Slurm,
    /// Inside a Slurm array task: run this (variant, seed) run id, nothing else.
    Task(String),
    /// Write the report from what is on disk; run nothing.
    ReportOnly,
}

#[derive(Debug, Clone)]
pub struct AblateOptions {
    pub file: PathBuf,
    pub mode: Mode,
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
    /// `report.md`, when this invocation wrote the report.
    pub report: Option<PathBuf>,
    pub planned: usize,
    /// Runs started (or, on Slurm, submitted) by this invocation; the others were finished
    /// before, or failed and were not retried.
    pub started: usize,
    /// `(run id, error, log path)` of every failed run.
    pub failed: Vec<(String, String, PathBuf)>,
    /// `(array job id, report job id)` when submitted to Slurm.
    pub slurm_jobs: Option<(String, String)>,
}

/// A sweep folder with its plan and the state of every run.
pub struct Sweep {
    pub spec: AblationSpec,
    pub dir: PathBuf,
    pub variants: Vec<Variant>,
    pub runs: Vec<PlannedRun>,
    pub states: Vec<RunState>,
}

impl Sweep {
    pub fn open(file: &std::path::Path, root: &std::path::Path) -> Result<Self> {
        let spec = AblationSpec::load(file)?;
        let dir = root.join(&spec.name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let variants = plan::variants(&spec);
        let runs = plan::runs(&spec, &variants, &dir);
        let states = runs.iter().map(|r| RunState::load_or_new(r, &variants[r.variant].name)).collect::<Result<_>>()?;
        Ok(Self { spec, dir, variants, runs, states })
    }

    /// Marks run `i` completed when its folder holds a finished run, even if the sweep
    /// died before recording it (adopted, never redone); saves the state when `save`.
    fn adopt_finished(&mut self, i: usize, save: bool) -> Result<bool> {
        let metrics: Vec<String> = self.spec.metrics.iter().map(|(m, _)| m.clone()).collect();
        let Some(finished) = state::finished_run(&self.runs[i], &metrics) else { return Ok(false) };
        let st = &mut self.states[i];
        if st.status != Status::Completed || st.run_dir.as_ref() != Some(&finished) {
            st.status = Status::Completed;
            st.run_dir = Some(finished);
            st.error = None;
            if save {
                st.save(&self.runs[i].state)?;
            }
        }
        Ok(true)
    }

    /// The runs to start (indices) and how many are settled (finished, or failed and not
    /// retried).
    fn pending(&mut self, retry_failed: bool, save: bool) -> Result<(Vec<usize>, usize)> {
        let (mut todo, mut done) = (Vec::new(), 0);
        for i in 0..self.runs.len() {
            if self.adopt_finished(i, save)? {
                done += 1;
            } else if self.states[i].status == Status::Failed && !retry_failed {
                let (run, st) = (&self.runs[i], &self.states[i]);
                tracing::warn!("{} failed before: {} (log: {}); not retried without --retry-failed", run.id, st.error.as_deref().unwrap_or("?"), run.log.display());
                done += 1;
            } else {
                todo.push(i);
            }
        }
        Ok((todo, done))
    }

    fn failed(&self) -> Vec<(String, String, PathBuf)> {
        self.states.iter().filter(|s| s.status == Status::Failed).map(|s| (s.id.clone(), s.error.clone().unwrap_or_default(), s.log.clone())).collect()
    }

    fn outcome(&self, report: Option<PathBuf>, started: usize, slurm_jobs: Option<(String, String)>) -> SweepOutcome {
        SweepOutcome { dir: self.dir.clone(), report, planned: self.runs.len(), started, failed: self.failed(), slurm_jobs }
    }
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
    let mut sweep = Sweep::open(&opts.file, &opts.root)?;
    let launch = launch::LaunchOptions { jobs: opts.jobs, plugin_dirs: opts.plugin_dirs.clone(), plexus: opts.plexus.clone() };
    if let Mode::Task(id) = &opts.mode {
        // Array tasks run side by side on one sweep: no folder lock, one run each.
        let i = slurm::task_run(&sweep, id)?;
        if !sweep.adopt_finished(i, true)? {
            launch::run_local(&sweep.spec, &sweep.runs, &mut sweep.states, &[i], 0, &launch)?;
        }
        let mut outcome = sweep.outcome(None, 1, None);
        // A task answers for its own run only (its exit status is the array task's).
        outcome.failed.retain(|(run, _, _)| run == id);
        return Ok(outcome);
    }
    let _lock = lock(&sweep.dir)?;
    if opts.mode == Mode::ReportOnly {
        sweep.pending(false, false)?;
        let report = report::write(&sweep.spec, &sweep.variants, &sweep.runs, &sweep.states, &sweep.dir)?;
        return Ok(sweep.outcome(Some(report), 0, None));
    }
    let text = std::fs::read(&opts.file).map_err(|e| Error::io(&opts.file, e))?;
    crate::run_dir::write_atomic(&sweep.dir.join("ablation.yaml"), &text)?;
    state::remove_stale_temp_files(&sweep.dir.join("state"));
    let (todo, done) = sweep.pending(opts.retry_failed, true)?;
    let s = &sweep.spec;
    tracing::info!(
        "ablation {}: {} variants x {} seeds = {} runs; {} to run, {} at a time; folder {}",
        s.name,
        sweep.variants.len(),
        s.seeds.len(),
        sweep.runs.len(),
        todo.len(),
        opts.jobs,
        sweep.dir.display()
    );
    if opts.mode == Mode::Slurm {
        let jobs = slurm::submit(&sweep, &todo, opts)?;
        return Ok(sweep.outcome(None, todo.len(), Some(jobs)));
    }
    launch::run_local(&sweep.spec, &sweep.runs, &mut sweep.states, &todo, done, &launch)?;
    let report = report::write(&sweep.spec, &sweep.variants, &sweep.runs, &sweep.states, &sweep.dir)?;
    Ok(sweep.outcome(Some(report), todo.len(), None))
}
