//! `plexus ablate`: a sweep killed midway (SIGKILL to its process group) resumes without
//! redoing or losing a run; failed runs are reported and retried only on request; runs
//! measured under different evaluation protocols are refused; bad ablation files fail
//! with the file, line and key.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use plexus_tests::{plexus, plexus_bin, read_json, stdout_stderr, Experiment};
use serde_json::Value;

/// A tiny experiment (1 epoch of the toy data) and an ablation over it.
fn setup(axes_and_rest: &str) -> (Experiment, PathBuf) {
    let exp = Experiment::tiny();
    exp.edit("tiny.yaml", "epochs: 2", "epochs: 1");
    let file = exp.path().join("t.ablation.yaml");
    std::fs::write(
        &file,
        format!("name: t\nscript: clip.rhai\nconfig: tiny.yaml\n{axes_and_rest}metrics:\n  zero_shot_top1: {{direction: higher}}\n  t2i_r1: {{direction: higher}}\n"),
    )
    .unwrap();
    (exp, file)
}

const LR_AXIS: &str = "axes:\n  train.lr: [0.003, 0.01]\nseeds: 3\nbaseline: {train.lr: 0.003}\nbootstrap: {resamples: 500}\n";

/// The state files by name; temp files of an atomic write in progress (`.name.tmp-pid`)
/// are skipped.
fn states(sweep: &Path) -> BTreeMap<String, Value> {
    std::fs::read_dir(sweep.join("state"))
        .map(|d| {
            d.flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .filter(|(name, _)| !name.starts_with('.'))
                .map(|(name, path)| (name, read_json(&path)))
                .collect()
        })
        .unwrap_or_default()
}

fn completed(sweep: &Path) -> BTreeMap<String, Value> {
    states(sweep).into_iter().filter(|(_, s)| s["status"] == "completed").collect()
}

/// Every run folder of the sweep with a completed summary, per run id.
fn completed_run_folders(sweep: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for variant in std::fs::read_dir(sweep.join("runs")).unwrap().flatten() {
        for seed in std::fs::read_dir(variant.path()).unwrap().flatten() {
            for run in std::fs::read_dir(seed.path()).unwrap().flatten() {
                let summary = run.path().join("summary.json");
                if summary.exists() && read_json(&summary)["status"] == "completed" {
                    let id = format!("{}@{}", variant.file_name().to_string_lossy(), seed.file_name().to_string_lossy());
                    out.entry(id).or_default().push(run.path());
                }
            }
        }
    }
    out
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_sweep_killed_midway_resumes_without_redoing_or_losing_runs() {
    let (exp, file) = setup(LR_AXIS);
    let sweep = exp.path().join("ablations/t");
    // Its own process group, so one kill stops the launcher and every child run at once.
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new(plexus_bin())
            .args(["ablate", file.to_str().unwrap(), "--jobs", "2"])
            .current_dir(exp.path())
            .env("OMP_NUM_THREADS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    while completed(&sweep).len() < 2 {
        assert!(child.try_wait().unwrap().is_none(), "the sweep ended before it could be interrupted");
        assert!(Instant::now() < deadline, "no two runs finished in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status().unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    // Let any child still being reaped by init disappear before looking at the disk.
    std::thread::sleep(Duration::from_millis(300));
    let before = completed(&sweep);
    assert!(before.len() < 6, "all runs finished before the kill: nothing was interrupted");
    assert!(!sweep.join("report.md").exists(), "the killed sweep wrote no report");
    let before_folders = completed_run_folders(&sweep);
    let finished_before: BTreeMap<PathBuf, SystemTime> =
        before_folders.values().flatten().map(|d| (d.clone(), mtime(&d.join("summary.json")))).collect();
    eprintln!("killed with {} runs recorded complete, {} complete on disk", before.len(), finished_before.len());

    let out = plexus(exp.path(), &["ablate", file.to_str().unwrap(), "--jobs", "2"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let rerun = 6 - finished_before.len();
    assert!(text.contains(&format!("(6 runs, {rerun} run now)")), "only the unfinished runs run again:\n{text}");

    // Nothing redone: every run has exactly one completed folder, and those finished before
    // the kill are untouched (same folder, same summary.json timestamp, one attempt).
    let after = completed_run_folders(&sweep);
    assert_eq!(after.len(), 6, "{after:?}");
    for (id, dirs) in &after {
        assert_eq!(dirs.len(), 1, "{id} completed more than once: {dirs:?}");
    }
    for (dir, time) in &finished_before {
        assert_eq!(mtime(&dir.join("summary.json")), *time, "{} was rewritten", dir.display());
    }
    let states = states(&sweep);
    assert_eq!(states.len(), 6);
    let files = std::fs::read_dir(sweep.join("state")).unwrap().count();
    assert_eq!(files, 6, "temp files of writes the kill interrupted are cleaned up");
    for (name, s) in &states {
        assert_eq!(s["status"], "completed", "{name}: {s}");
        let dir = PathBuf::from(s["run_dir"].as_str().unwrap());
        if finished_before.contains_key(&dir) {
            assert_eq!(s["attempts"], 1, "{name} was started again: {s}");
        }
    }
    // Nothing lost: the report has every run and both variants over all three seeds.
    let csv = std::fs::read_to_string(sweep.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert_eq!(csv.lines().skip(1).filter(|l| l.contains(",completed,")).count(), 6, "{csv}");
    let summary = read_json(&sweep.join("summary.json"));
    for variant in ["train.lr=0.003", "train.lr=0.01"] {
        let m = &summary["variants"][variant]["zero_shot_top1"];
        assert_eq!(m["n"], 3, "{summary}");
        assert!(m["ci95_low"].as_f64().unwrap() <= m["mean"].as_f64().unwrap(), "{m}");
        assert!(m["mean"].as_f64().unwrap() <= m["ci95_high"].as_f64().unwrap(), "{m}");
    }
    let cmp = &summary["variants"]["train.lr=0.01"]["t2i_r1"];
    assert!(["better", "worse", "not distinguishable"].contains(&cmp["verdict"].as_str().unwrap()), "{cmp}");
    assert!(cmp["p_vs_baseline"].as_f64().unwrap() >= cmp["p_unadjusted"].as_f64().unwrap(), "Holm never lowers a p-value: {cmp}");
    assert!(summary["protocols"]["zero_shot_top1"].as_str().unwrap().contains("200 images"), "{summary}");
    for plot in ["plots/zero_shot_top1.png", "plots/t2i_r1.png"] {
        assert!(std::fs::metadata(sweep.join(plot)).unwrap().len() > 1000, "{plot}");
    }
    let report = std::fs::read_to_string(sweep.join("report.md")).unwrap();
    assert!(report.contains("| train.lr=0.01 | 3 |"), "{report}");
}

#[test]
fn a_failed_run_is_reported_and_retried_only_on_request() {
    // A zero batch size is refused by the trainer: one variant fails, the other completes.
    let (exp, file) = setup("axes:\n  train.batch_size: [128, 0]\nseeds: 2\nbaseline: {train.batch_size: 128}\nbootstrap: {resamples: 200}\n");
    let sweep = exp.path().join("ablations/t");
    let out = plexus(exp.path(), &["ablate", file.to_str().unwrap()]);
    let text = stdout_stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("2 run(s) failed") && text.contains("--retry-failed"), "{text}");
    assert!(text.contains("logs/train.batch_size=0@seed0.log"), "the log path is named:\n{text}");
    let report = std::fs::read_to_string(sweep.join("report.md")).unwrap();
    assert!(report.contains("## Failed runs"), "{report}");
    let ok = completed_run_folders(&sweep);
    assert_eq!(ok.len(), 2, "{ok:?}");

    let again = plexus(exp.path(), &["ablate", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("(4 runs, 0 run now)"), "{}", stdout_stderr(&again));
    let retry = plexus(exp.path(), &["ablate", file.to_str().unwrap(), "--retry-failed"]);
    assert!(String::from_utf8_lossy(&retry.stdout).contains("(4 runs, 2 run now)"), "{}", stdout_stderr(&retry));
    let states = states(&sweep);
    assert_eq!(states["train.batch_size=0@seed1.json"]["attempts"], 2);
    assert_eq!(states["train.batch_size=128@seed1.json"]["attempts"], 1);
    assert_eq!(completed_run_folders(&sweep), ok, "completed runs were not touched");
}

#[test]
fn runs_under_different_evaluation_protocols_are_not_merged() {
    // The test split size is part of the protocol: 100 vs 200 test images.
    let (exp, file) = setup("axes:\n  data.test.limit: [0, 100]\nseeds: 2\nbaseline: {data.test.limit: 0}\nbootstrap: {resamples: 200}\n");
    let out = plexus(exp.path(), &["ablate", file.to_str().unwrap()]);
    let text = stdout_stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("refusing to merge") && text.contains("different evaluation protocols"), "{text}");
    assert!(text.contains("100 images") && text.contains("200 images"), "both protocols are shown:\n{text}");
    assert!(!exp.path().join("ablations/t/summary.json").exists(), "no report from mixed protocols");
}

/// `plexus ablate` on a file whose body is `body` fails, naming `expect` (each part).
fn assert_refused(body: &str, expect: &[&str]) {
    let exp = Experiment::tiny();
    std::fs::write(exp.path().join("bad.ablation.yaml"), body).unwrap();
    let out = plexus(exp.path(), &["ablate", "bad.ablation.yaml"]);
    let text = stdout_stderr(&out);
    assert!(!out.status.success(), "{body}\n{text}");
    for part in expect {
        assert!(text.contains(part), "expected `{part}` for\n{body}\ngot: {text}");
    }
    assert!(!exp.path().join("ablations").exists(), "a bad file starts nothing");
}

const HEAD: &str = "script: clip.rhai\nconfig: tiny.yaml\n";
const TAIL: &str = "metrics:\n  zero_shot_top1: {direction: higher}\n";

#[test]
fn bad_ablation_files_name_the_line_and_key() {
    let good_axes = "axes:\n  train.lr: [0.003, 0.01]\nseeds: 2\nbaseline: {train.lr: 0.003}\n";
    // Unknown top-level key (line 3), with the accepted ones listed.
    assert_refused(&format!("{HEAD}axis:\n  train.lr: [1]\n{TAIL}"), &["bad.ablation.yaml:3:", "unknown field `axis`", "axes"]);
    // An axis the base config lacks, with a suggestion.
    assert_refused(&format!("{HEAD}axes:\n  train.lrr: [0.1]\nseeds: 2\nbaseline: {{train.lrr: 0.1}}\n{TAIL}"), &["bad.ablation.yaml:4", "axes.train.lrr", "did you mean `lr`"]);
    // A value of the wrong type for its key.
    assert_refused(&format!("{HEAD}axes:\n  train.epochs: [1, fast]\nseeds: 2\nbaseline: {{train.epochs: 1}}\n{TAIL}"), &["bad.ablation.yaml:4", "axes.train.epochs", "integer"]);
    // The baseline must be a point of the grid.
    assert_refused(&format!("{HEAD}axes:\n  train.lr: [0.003, 0.01]\nseeds: 2\nbaseline:\n  train.lr: 0.02\n{TAIL}"), &["bad.ablation.yaml:7", "baseline.train.lr", "0.02 is not one of the axis values"]);
    // A metric direction other than higher/lower.
    assert_refused(&format!("{HEAD}{good_axes}metrics:\n  zero_shot_top1: {{direction: up}}\n"), &["bad.ablation.yaml:8", "unknown variant `up`"]);
    // Random sampling without a budget; one seed only; a missing script.
    assert_refused(&format!("{HEAD}{good_axes}sampling: random\n{TAIL}"), &["bad.ablation.yaml:7", "budget", "random sampling needs"]);
    assert_refused(&format!("{HEAD}axes:\n  train.lr: [0.003, 0.01]\nseeds: 1\nbaseline: {{train.lr: 0.003}}\n{TAIL}"), &["bad.ablation.yaml:5", "seeds", "at least 2"]);
    assert_refused(&format!("script: nope.rhai\nconfig: tiny.yaml\n{good_axes}{TAIL}"), &["bad.ablation.yaml:1", "script", "nope.rhai does not exist"]);
}
