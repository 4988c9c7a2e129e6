//! `train.step_threads`: a CPU step split over threads trains the model one thread trains.
use std::path::Path;

use plexus_tests::{stdout_stderr, Experiment};

/// `train/loss` of every logged step.
fn losses(run: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["train/loss"].as_f64()
        })
        .collect()
}

#[test]
fn two_step_threads_train_like_one_and_repeat_exactly() {
    let exp = Experiment::tiny();
    exp.edit("tiny.yaml", "log_every: 5", "log_every: 1");
    for threads in ["1", "2", "2"] {
        let out = exp.run(&[&format!("+train.step_threads={threads}")]);
        let log = stdout_stderr(&out);
        assert!(out.status.success(), "{log}");
        assert_eq!(
            log.contains("train.step_threads: 2 threads share each step"),
            threads == "2",
            "{log}"
        );
    }
    let runs = exp.run_dirs();
    let (one, two, again) = (losses(&runs[0]), losses(&runs[1]), losses(&runs[2]));
    assert_eq!(one.len(), 20, "{one:?}");
    assert_eq!(
        two, again,
        "the same seed with 2 step threads must repeat bit for bit"
    );
    // Same weights and batches: the first steps differ only by float rounding (a wrong
    // gradient, e.g. one slice's alone, changes the second step's loss by far more).
    for (step, (a, b)) in one.iter().zip(&two).take(4).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * a.abs(),
            "step {}: loss {a} with one thread, {b} with two",
            step + 1
        );
    }
    assert!(two[19] < 0.8 * two[0], "two threads did not train: {two:?}");
}

#[test]
fn bad_step_threads_are_refused_by_key() {
    let exp = Experiment::tiny();
    for bad in ["0", "fast", "-2"] {
        let out = exp.run(&[&format!("+train.step_threads={bad}")]);
        let log = stdout_stderr(&out);
        assert!(
            !out.status.success(),
            "step_threads={bad} was accepted: {log}"
        );
        assert!(
            log.contains("tiny.yaml: train: step_threads: must be `auto` or a thread count >= 1"),
            "step_threads={bad}: {log}"
        );
    }
}
