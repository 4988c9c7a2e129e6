//! `plexus ablate --launcher slurm` on a real single-node Slurm (slurmctld + slurmd +
//! munged, started by `tools/slurm-local.sh`, which installs Debian's packages when
//! missing): one job array whose tasks pick their (variant, seed) by
//! SLURM_ARRAY_TASK_ID, results in the sweep folder, and the report written by the
//! dependent report job once every task has ended.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use plexus_tests::{plexus_bin, read_json, root, stdout_stderr, Experiment};

/// Starts (or finds) the local cluster; returns its SLURM_CONF.
fn local_slurm() -> PathBuf {
    let out = Command::new("bash").arg(root().join("tools/slurm-local.sh")).output().expect("run tools/slurm-local.sh");
    assert!(out.status.success(), "tools/slurm-local.sh could not start Slurm:\n{}", stdout_stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let conf = text.lines().rev().find_map(|l| l.strip_prefix("SLURM_CONF=")).expect("SLURM_CONF line");
    PathBuf::from(conf)
}

fn ablate(dir: &Path, conf: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["ablate", "t.ablation.yaml", "--launcher", "slurm"];
    args.extend_from_slice(extra);
    Command::new(plexus_bin()).args(&args).current_dir(dir).env("OMP_NUM_THREADS", "1").env("SLURM_CONF", conf).output().unwrap()
}

#[test]
fn a_slurm_job_array_runs_every_variant_and_seed_then_reports() {
    let conf = local_slurm();
    let exp = Experiment::tiny();
    exp.edit("tiny.yaml", "epochs: 2", "epochs: 1");
    std::fs::write(
        exp.path().join("t.ablation.yaml"),
        "name: t\nscript: clip.rhai\nconfig: tiny.yaml\naxes:\n  train.lr: [0.003, 0.01]\nseeds: 2\nbaseline: {train.lr: 0.003}\n\
         bootstrap: {resamples: 200}\nmetrics:\n  zero_shot_top1: {direction: higher}\n",
    )
    .unwrap();
    let out = ablate(exp.path(), &conf, &[]);
    let text = stdout_stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("(4 runs, 4 run now)") && text.contains("submitted: job array"), "{text}");
    let sweep = exp.path().join("ablations/t");
    let array = std::fs::read_to_string(sweep.join("slurm/array.sh")).unwrap();
    assert!(array.contains("#SBATCH --array=0-3") && array.contains("SLURM_ARRAY_TASK_ID"), "{array}");

    let deadline = Instant::now() + Duration::from_secs(400);
    while !sweep.join("summary.json").exists() {
        assert!(Instant::now() < deadline, "no report after 400 s; slurm logs in {}", sweep.join("logs").display());
        std::thread::sleep(Duration::from_millis(500));
    }
    let summary = read_json(&sweep.join("summary.json"));
    assert_eq!(summary["runs"]["completed"], 4, "{summary}");
    for variant in ["train.lr=0.003", "train.lr=0.01"] {
        assert_eq!(summary["variants"][variant]["zero_shot_top1"]["n"], 2, "{summary}");
    }
    // One Slurm log per array task, each of which ran its own (variant, seed).
    let task_logs: Vec<String> = std::fs::read_dir(sweep.join("logs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("slurm-") && !n.starts_with("slurm-report"))
        .collect();
    assert_eq!(task_logs.len(), 4, "{task_logs:?}");
    let csv = std::fs::read_to_string(sweep.join("results.csv")).unwrap();
    assert_eq!(csv.lines().filter(|l| l.contains(",completed,1,")).count(), 4, "{csv}");

    // Submitting again finds nothing to run: only a report job.
    let again = ablate(exp.path(), &conf, &[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("(4 runs, 0 run now)"), "{}", stdout_stderr(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("job array none"), "{}", stdout_stderr(&again));
}
