//! One state file per run (`state/<id>.json`, written atomically), and what the disk
//! says about a run: a run folder whose `summary.json` says `completed` and has every
//! metric of the ablation is finished, whatever its state file says (the sweep may have
//! been killed between the run finishing and the state being written).
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::plan::PlannedRun;
use crate::error::{Error, Result};
use crate::run_dir::write_atomic;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    pub id: String,
    pub variant: String,
    pub seed: u64,
    pub overrides: Vec<String>,
    pub status: Status,
    /// Times this run was started (a retry or an interrupted attempt adds one).
    pub attempts: u32,
    pub run_dir: Option<PathBuf>,
    pub log: PathBuf,
    pub started: Option<String>,
    pub finished: Option<String>,
    pub error: Option<String>,
}

impl RunState {
    pub fn new(run: &PlannedRun, variant: &str) -> Self {
        Self {
            id: run.id.clone(),
            variant: variant.to_string(),
            seed: run.seed,
            overrides: run.overrides.clone(),
            status: Status::Pending,
            attempts: 0,
            run_dir: None,
            log: run.log.clone(),
            started: None,
            finished: None,
            error: None,
        }
    }

    /// The saved state of `run`, or a fresh one. A saved state made with other overrides
    /// belongs to a different ablation: refused rather than silently mixed in.
    pub fn load_or_new(run: &PlannedRun, variant: &str) -> Result<Self> {
        let Ok(text) = std::fs::read_to_string(&run.state) else { return Ok(Self::new(run, variant)) };
        let state: RunState = serde_json::from_str(&text).map_err(|e| Error::Other(format!("{}: unreadable run state: {e}", run.state.display())))?;
        if state.overrides != run.overrides {
            return Err(Error::Other(format!(
                "{}: this run was made with overrides {:?} but the ablation now asks for {:?}; give the ablation a new `name` or delete its folder",
                run.state.display(),
                state.overrides,
                run.overrides
            )));
        }
        Ok(state)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut text = serde_json::to_string_pretty(self).map_err(|e| Error::Other(e.to_string()))?;
        text.push('\n');
        write_atomic(path, text.as_bytes())
    }
}

pub fn now() -> String {
    chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// The run's `summary.json` when it says `completed` and has every metric in `metrics`.
pub fn complete_summary(run_dir: &Path, metrics: &[String]) -> Option<Value> {
    let text = std::fs::read_to_string(run_dir.join("summary.json")).ok()?;
    let summary: Value = serde_json::from_str(&text).ok()?;
    let done = summary["status"] == "completed" && metrics.iter().all(|m| summary["metrics"][m].is_number());
    done.then_some(summary)
}

/// Run folders under `runs_dir`, oldest name first.
pub fn run_folders(runs_dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs_dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// A finished run folder of this planned run, if any.
pub fn finished_run(run: &PlannedRun, metrics: &[String]) -> Option<PathBuf> {
    run_folders(&run.runs_dir).into_iter().find(|d| complete_summary(d, metrics).is_some())
}

/// Removes the temp files of atomic writes that a kill interrupted (`.<name>.tmp-<pid>`).
pub fn remove_stale_temp_files(state_dir: &Path) {
    for entry in std::fs::read_dir(state_dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
