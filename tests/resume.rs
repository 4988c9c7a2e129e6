//! Kill-and-resume gives bit-identical results; equal seeds give equal runs.
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plexus_tests::{plexus_bin, read_json, stdout_stderr, Experiment};
use serde_json::Value;

/// metrics.jsonl without wall-clock fields, which legitimately differ between runs.
fn metric_records(run: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}"));
            v.as_object_mut().unwrap().retain(|k, _| !k.contains("second"));
            v
        })
        .collect()
}

fn configure(exp: &Experiment) {
    exp.edit("tiny.yaml", "epochs: 2", "epochs: 3");
    exp.edit("tiny.yaml", "log_every: 5", "log_every: 1\n  checkpoint_every: 4");
}

fn pseudo_random_step(lo: u64, hi: u64) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    lo + nanos % (hi - lo + 1)
}

fn last_step(run_root: &Path) -> Option<u64> {
    let dir = std::fs::read_dir(run_root).ok()?.next()?.ok()?.path();
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).ok()?;
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter_map(|v| v["step"].as_u64()).max()
}

#[test]
fn sigkill_at_a_random_step_then_resume_is_bit_identical() {
    let reference = Experiment::tiny();
    configure(&reference);
    let out = reference.run(&[]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let expected_run = reference.only_run_dir();

    let exp = Experiment::tiny();
    configure(&exp);
    // 1280 examples / 128 = 10 steps per epoch, 30 in all; checkpoints every 4 steps.
    let kill_at = pseudo_random_step(5, 26);
    eprintln!("killing at step >= {kill_at}");
    let mut child = Command::new(plexus_bin())
        .args(["run", "clip.rhai", "--config", "tiny.yaml"])
        .current_dir(exp.path())
        .env("OMP_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if last_step(&exp.path().join("runs")).is_some_and(|s| s >= kill_at) {
            child.kill().unwrap(); // SIGKILL
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "run finished before step {kill_at}; nothing was interrupted");
        assert!(Instant::now() < deadline, "run did not reach step {kill_at}");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait().unwrap();
    let run = exp.only_run_dir();
    assert!(!run.join("summary.json").exists(), "a killed run has no summary");
    // Whatever the moment of the kill, every checkpoint file on disk is whole.
    for file in [run.join("checkpoints/last.safetensors"), run.join("weights.safetensors")] {
        plexus::checkpoint::read_tensors(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }

    let resumed = plexus_tests::plexus(exp.path(), &["run", "--resume", run.to_str().unwrap()]);
    assert!(resumed.status.success(), "{}", stdout_stderr(&resumed));
    let got = read_json(&run.join("summary.json"));
    let want = read_json(&expected_run.join("summary.json"));
    assert_eq!(got["metrics"], want["metrics"], "killed at step {kill_at}");
    assert_eq!(metric_records(&run), metric_records(&expected_run), "killed at step {kill_at}");
    let dirs: Vec<_> = std::fs::read_dir(&run).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(dirs.iter().all(|n| !n.to_string_lossy().contains(".tmp-")), "temp files left: {dirs:?}");
}

#[test]
fn same_seed_same_metrics_different_seed_different_metrics() {
    let exp = Experiment::tiny();
    for seed in ["seed=0", "seed=0", "seed=1"] {
        let out = exp.run(&[seed]);
        assert!(out.status.success(), "{}", stdout_stderr(&out));
    }
    let runs = exp.run_dirs();
    let (a, b, c) = (metric_records(&runs[0]), metric_records(&runs[1]), metric_records(&runs[2]));
    assert_eq!(a, b, "same seed must give identical metrics.jsonl values");
    assert_ne!(a, c, "a different seed must change the run");
    let summary = |i: usize| read_json(&runs[i].join("summary.json"))["metrics"].clone();
    assert_eq!(summary(0), summary(1));
}

#[test]
fn resume_refuses_folders_it_cannot_continue() {
    let exp = Experiment::tiny();
    let not_a_run = exp.path().join("data");
    let out = plexus_tests::plexus(exp.path(), &["run", "--resume", not_a_run.to_str().unwrap()]);
    assert!(stdout_stderr(&out).contains("not a plexus run folder"), "{}", stdout_stderr(&out));

    let ok = exp.run(&["train.epochs=1"]);
    assert!(ok.status.success());
    let run = exp.only_run_dir();
    let ckpt = run.join("checkpoints/last.safetensors");
    let bytes = std::fs::read(&ckpt).unwrap();
    std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).unwrap();
    let out = plexus_tests::plexus(exp.path(), &["run", "--resume", run.to_str().unwrap()]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("last.safetensors: not a valid safetensors file"), "{text}");
}
