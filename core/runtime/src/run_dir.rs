//! The run folder: `runs/<name>-<timestamp>/` with the resolved config, the script, the
//! plugin fingerprints, `metrics.jsonl` and `summary.json`. Whole files are written
//! atomically (temp file, fsync, rename); `metrics.jsonl` is appended one flushed line at
//! a time, so a crash loses at most the line being written.
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct RunDir {
    path: PathBuf,
    metrics: File,
    /// TensorBoard mirror of metrics.jsonl (`tb/`); a resumed run starts a new events file.
    events: crate::tracking::EventWriter,
}

impl RunDir {
    /// Creates `root/<name>-<timestamp>[-n]/`.
    pub fn create(root: &Path, name: &str) -> Result<Self> {
        fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let mut path = root.join(format!("{name}-{stamp}"));
        let mut n = 1;
        while path.exists() {
            path = root.join(format!("{name}-{stamp}-{n}"));
            n += 1;
        }
        fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        let metrics_path = path.join("metrics.jsonl");
        let metrics = OpenOptions::new().create(true).append(true).open(&metrics_path).map_err(|e| Error::io(&metrics_path, e))?;
        let events = crate::tracking::EventWriter::create(&path.join("tb"))?;
        Ok(Self { path, metrics, events })
    }

    /// Reopens an existing run folder to resume it: metrics.jsonl is cut back to
    /// `keep_bytes` (what the checkpoint had seen) and stale temp files are removed.
    pub fn reopen(path: &Path, keep_bytes: u64) -> Result<Self> {
        let metrics_path = path.join("metrics.jsonl");
        let metrics = OpenOptions::new().write(true).open(&metrics_path).map_err(|e| Error::io(&metrics_path, e))?;
        let len = metrics.metadata().map_err(|e| Error::io(&metrics_path, e))?.len();
        if len < keep_bytes {
            return Err(Error::Other(format!("{}: has {len} bytes but the checkpoint saw {keep_bytes}", metrics_path.display())));
        }
        metrics.set_len(keep_bytes).map_err(|e| Error::io(&metrics_path, e))?;
        drop(metrics);
        for dir in [path.to_path_buf(), path.join("checkpoints")] {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.contains(".tmp-") {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        let metrics = OpenOptions::new().append(true).open(&metrics_path).map_err(|e| Error::io(&metrics_path, e))?;
        let events = crate::tracking::EventWriter::create(&path.join("tb"))?;
        Ok(Self { path: path.to_path_buf(), metrics, events })
    }

    /// Bytes written to metrics.jsonl so far.
    pub fn metrics_len(&self) -> Result<u64> {
        self.metrics.metadata().map(|m| m.len()).map_err(|e| Error::io(self.path.join("metrics.jsonl"), e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` inside the run folder atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let target = self.path.join(name);
        write_atomic(&target, bytes)?;
        Ok(target)
    }

    pub fn write_json(&self, name: &str, value: &serde_json::Value) -> Result<PathBuf> {
        let mut text = serde_json::to_string_pretty(value).map_err(|e| Error::Other(e.to_string()))?;
        text.push('\n');
        self.write(name, text.as_bytes())
    }

    /// Appends one JSON object as a line of `metrics.jsonl`.
    pub fn log_metrics(&mut self, record: &serde_json::Value) -> Result<()> {
        let line = format!("{}\n", serde_json::to_string(record).map_err(|e| Error::Other(e.to_string()))?);
        self.metrics.write_all(line.as_bytes()).map_err(|e| Error::io(self.path.join("metrics.jsonl"), e))?;
        self.metrics.flush().map_err(|e| Error::io(self.path.join("metrics.jsonl"), e))?;
        let step = record.get("step").and_then(|s| s.as_i64()).unwrap_or(0);
        self.events.scalars(step, &crate::tracking::scalars_of(record))
    }
}

/// Temp file in the same folder, fsync, rename over the target, fsync the folder.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let file_name = target.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, target).map_err(|e| Error::io(target, e))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("summary.json");
        write_atomic(&target, b"first").unwrap();
        write_atomic(&target, b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn metrics_lines_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = RunDir::create(dir.path(), "t").unwrap();
        run.log_metrics(&serde_json::json!({"step": 1})).unwrap();
        run.log_metrics(&serde_json::json!({"step": 2})).unwrap();
        let text = fs::read_to_string(run.path().join("metrics.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 2);
    }
}
