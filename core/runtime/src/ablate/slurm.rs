//! The Slurm launcher: one job array over the runs still to do, each array task picking
//! its (variant, seed) by `SLURM_ARRAY_TASK_ID` and running it as `plexus ablate FILE
//! --task-run ID` (which runs the child `plexus run` and records its state, as the local
//! launcher does), plus a report job that starts when every task has ended (`afterany`).
//! Results land in the same sweep folder as local runs, so the two launchers mix and
//! resume each other.
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{AblateOptions, Sweep};
use crate::error::{Error, Result};

/// The index of the planned run `id` (an array task's argument).
pub fn task_run(sweep: &Sweep, id: &str) -> Result<usize> {
    sweep.runs.iter().position(|r| r.id == id).ok_or_else(|| {
        Error::Other(format!("{}: no run `{id}` in this ablation (was the file changed after submitting?)", sweep.spec.file.display()))
    })
}

/// Single-quoted for bash (run ids and paths never contain a quote, but be safe).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// `plexus ablate FILE --out ROOT [--plugin-dir D]...` as a bash command prefix.
fn ablate_command(opts: &AblateOptions) -> String {
    let mut cmd = vec![quote(&opts.plexus.display().to_string())];
    for dir in &opts.plugin_dirs {
        cmd.push("--plugin-dir".into());
        cmd.push(quote(&dir.display().to_string()));
    }
    cmd.extend(["ablate".into(), quote(&opts.file.display().to_string()), "--out".into(), quote(&opts.root.display().to_string())]);
    cmd.join(" ")
}

fn sbatch(args: &[&str], script: &Path) -> Result<String> {
    let out = Command::new("sbatch")
        .args(args)
        .arg(script)
        .output()
        .map_err(|e| Error::Other(format!("cannot run sbatch ({e}); is Slurm installed and SLURM_CONF set?")))?;
    if !out.status.success() {
        return Err(Error::Other(format!("sbatch {}: {}", script.display(), String::from_utf8_lossy(&out.stderr).trim())));
    }
    // `--parsable` prints `jobid[;cluster]`.
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.trim().split(';').next().unwrap_or_default().to_string())
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    crate::run_dir::write_atomic(path, text.as_bytes())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(path, e))
}

/// Writes `slurm/array.sh` and `slurm/report.sh`, submits them, and returns the
/// (array, report) job ids. With nothing left to run only the report job is submitted.
pub fn submit(sweep: &Sweep, todo: &[usize], opts: &AblateOptions) -> Result<(String, String)> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let dir = absolute(&cwd, &sweep.dir);
    let slurm_dir = dir.join("slurm");
    let logs = dir.join("logs");
    for d in [&slurm_dir, &logs] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let name = &sweep.spec.name;
    let header = |job: &str, output: &str| {
        format!(
            "#!/bin/bash\n#SBATCH --job-name=plexus-{job}-{name}\n#SBATCH --chdir={}\n#SBATCH --output={}\n#SBATCH --ntasks=1\n",
            cwd.display(),
            logs.join(output).display()
        )
    };
    let array_id = if todo.is_empty() {
        "none".to_string()
    } else {
        let ids: Vec<String> = todo.iter().map(|&i| quote(&sweep.runs[i].id)).collect();
        let throttle = if opts.jobs > 0 { format!("%{}", opts.jobs) } else { String::new() };
        let script = format!(
            "{}#SBATCH --array=0-{}{throttle}\n# Array task k runs the k-th (variant, seed) still to do when this was submitted.\nruns=({})\nexec {} --task-run \"${{runs[$SLURM_ARRAY_TASK_ID]}}\"\n",
            header("ablate", "slurm-%A_%a.out"),
            ids.len() - 1,
            ids.join(" "),
            ablate_command(opts)
        );
        let path = slurm_dir.join("array.sh");
        write_script(&path, &script)?;
        sbatch(&["--parsable"], &path)?
    };
    let report = format!("{}exec {} --report-only\n", header("report", "slurm-report-%j.out"), ablate_command(opts));
    let report_path = slurm_dir.join("report.sh");
    write_script(&report_path, &report)?;
    let dependency = format!("--dependency=afterany:{array_id}");
    let mut args = vec!["--parsable"];
    if !todo.is_empty() {
        args.push(&dependency);
    }
    let report_id = sbatch(&args, &report_path)?;
    let jobs = serde_json::json!({"array": array_id, "report": report_id, "runs": todo.iter().map(|&i| &sweep.runs[i].id).collect::<Vec<_>>(), "submitted": super::state::now()});
    crate::run_dir::write_atomic(&slurm_dir.join("jobs.json"), format!("{jobs:#}\n").as_bytes())?;
    Ok((array_id, report_id))
}
