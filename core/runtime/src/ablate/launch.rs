//! The local launcher: each (variant, seed) is a separate `plexus run` child process,
//! at most `jobs` at a time, with a progress bar over the whole sweep. Children stay in
//! the launcher's process group, so killing the group stops the whole sweep.
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::plan::PlannedRun;
use super::state::{complete_summary, now, run_folders, RunState, Status};
use super::spec::AblationSpec;
use crate::error::{Error, Result};

pub struct LaunchOptions {
    pub jobs: usize,
    pub plugin_dirs: Vec<PathBuf>,
    /// The `plexus` binary the children run (this one, normally).
    pub plexus: PathBuf,
}

struct Running {
    index: usize,
    child: Child,
    /// Run folders that existed before the child started: the new one is its own.
    before: Vec<PathBuf>,
}

fn progress_bar(total: usize, done: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64).with_prefix("sweep");
    if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} runs {msg} [{elapsed}<{eta}]") {
        bar.set_style(style);
    }
    bar.set_position(done as u64);
    bar
}

fn start(spec: &AblationSpec, run: &PlannedRun, state: &mut RunState, opts: &LaunchOptions) -> Result<Child> {
    for dir in [&run.runs_dir, run.log.parent().unwrap_or(Path::new("."))] {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut log = OpenOptions::new().create(true).append(true).open(&run.log).map_err(|e| Error::io(&run.log, e))?;
    state.attempts += 1;
    state.status = Status::Running;
    state.started = Some(now());
    state.finished = None;
    state.error = None;
    let mut cmd = Command::new(&opts.plexus);
    cmd.arg("run").arg(&spec.script).arg("--config").arg(&spec.config).args(&run.overrides).arg("--runs-dir").arg(&run.runs_dir);
    for dir in &opts.plugin_dirs {
        cmd.arg("--plugin-dir").arg(dir);
    }
    writeln!(log, "== attempt {} at {}: {:?}", state.attempts, now(), cmd).map_err(|e| Error::io(&run.log, e))?;
    let err = log.try_clone().map_err(|e| Error::io(&run.log, e))?;
    cmd.stdin(Stdio::null()).stdout(Stdio::from(log)).stderr(Stdio::from(err));
    state.save(&run.state)?;
    cmd.spawn().map_err(|e| Error::Other(format!("cannot start {}: {e}", opts.plexus.display())))
}

/// Records how a child ended: completed only when its own new run folder has a complete
/// summary with every metric of the ablation.
fn finish(run: &PlannedRun, state: &mut RunState, before: &[PathBuf], exit: std::process::ExitStatus, metrics: &[String]) -> Result<()> {
    let dir = run_folders(&run.runs_dir).into_iter().find(|d| !before.contains(d));
    state.run_dir = dir.clone();
    state.finished = Some(now());
    let summary = dir.as_ref().and_then(|d| std::fs::read_to_string(d.join("summary.json")).ok()).and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    let missing: Vec<&String> = metrics.iter().filter(|m| !summary.as_ref().is_some_and(|s| s["metrics"][m.as_str()].is_number())).collect();
    (state.status, state.error) = match (&dir, &summary) {
        (Some(d), Some(_)) if exit.success() && complete_summary(d, metrics).is_some() => (Status::Completed, None),
        (Some(_), Some(s)) if exit.success() => {
            (Status::Failed, Some(format!("summary.json lacks metric(s) {missing:?} (it has {})", s["metrics"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default())))
        }
        (_, Some(s)) if s["error"].is_string() => (Status::Failed, s["error"].as_str().map(str::to_string)),
        _ => (Status::Failed, Some(format!("exited with {exit}; see {}", run.log.display()))),
    };
    state.save(&run.state)
}

/// Runs `todo` (indices into `runs`), `jobs` at a time. `done` runs are already finished
/// (they count on the progress bar). Returns when every started child has ended.
pub fn run_local(spec: &AblationSpec, runs: &[PlannedRun], states: &mut [RunState], todo: &[usize], done: usize, opts: &LaunchOptions) -> Result<()> {
    let metrics: Vec<String> = spec.metrics.iter().map(|(m, _)| m.clone()).collect();
    let bar = progress_bar(runs.len(), done);
    let mut queue = todo.iter().copied().rev().collect::<Vec<_>>();
    let mut running: Vec<Running> = Vec::new();
    let jobs = opts.jobs.max(1);
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < jobs {
            let Some(index) = queue.pop() else { break };
            let before = run_folders(&runs[index].runs_dir);
            let child = start(spec, &runs[index], &mut states[index], opts)?;
            tracing::info!("started {} (attempt {})", runs[index].id, states[index].attempts);
            running.push(Running { index, child, before });
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut still = Vec::new();
        for mut r in running.drain(..) {
            match r.child.try_wait().map_err(|e| Error::Other(format!("waiting for {}: {e}", runs[r.index].id)))? {
                None => still.push(r),
                Some(exit) => {
                    let (run, state) = (&runs[r.index], &mut states[r.index]);
                    finish(run, state, &r.before, exit, &metrics)?;
                    match state.status {
                        Status::Completed => tracing::info!("finished {}", run.id),
                        _ => tracing::warn!("{} failed: {} (log: {})", run.id, state.error.as_deref().unwrap_or("?"), run.log.display()),
                    }
                    bar.inc(1);
                    bar.set_message(run.id.clone());
                }
            }
        }
        running = still;
    }
    bar.finish_and_clear();
    Ok(())
}
