//! Example suite of property-tested ablations (tests/support/ablation_props.rs): proptest
//! draws configurations from an ablation file's axes, and a failing invariant is reported
//! with the minimal configuration it shrank to.
use std::path::PathBuf;

use plexus_tests::ablation_props::*;
use plexus_tests::{plexus, read_json, stdout_stderr, Experiment};
use serde_json::{json, Value};

/// An ablation file over the tiny experiment in `exp` (absolute paths, so it loads from
/// any working directory).
fn ablation(exp: &Experiment, axes: &str, baseline: &str) -> PathBuf {
    let file = exp.path().join("p.ablation.yaml");
    let text = format!(
        "name: p\nscript: {}\nconfig: {}\naxes:\n{axes}seeds: 2\nbaseline: {baseline}\nmetrics:\n  zero_shot_top1: {{direction: higher}}\n",
        exp.path().join("clip.rhai").display(),
        exp.path().join("tiny.yaml").display()
    );
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn a_failing_invariant_shrinks_to_a_minimal_configuration() {
    let exp = Experiment::tiny();
    let spec = load_axes(&ablation(&exp, "  train.lr: [0.001, 0.003, 0.01, 0.03]\n  train.batch_size: [64, 128, 256]\n", "{train.lr: 0.001, train.batch_size: 64}"));
    // A deliberately false "invariant": large steps times large batches break it.
    let product = |c: &Configuration| c.get("train.lr").unwrap().as_f64().unwrap() * c.get("train.batch_size").unwrap().as_f64().unwrap();
    let holds = |c: &Configuration| if product(c) < 1.0 { Ok(()) } else { Err(format!("lr x batch = {}", product(c))) };
    let (minimal, reason) = find_counterexample(configurations(&spec), 64, holds).expect("the invariant is false for some configuration");
    assert!(holds(&minimal).is_err(), "{minimal}: {reason}");
    // Minimal: moving any axis one value toward its first value makes the invariant hold.
    for (axis, values) in &spec.axes {
        let at = values.iter().position(|v| Some(v) == minimal.get(axis)).unwrap();
        if at > 0 {
            let mut smaller = minimal.clone();
            smaller.0.iter_mut().find(|(k, _)| k == axis).unwrap().1 = values[at - 1].clone();
            assert!(holds(&smaller).is_ok(), "{minimal} was not shrunk along {axis}: {smaller} still fails");
        }
    }
    assert!(["train.batch_size=128, train.lr=0.01", "train.batch_size=64, train.lr=0.03"].contains(&minimal.to_string().as_str()), "{minimal}");
}

#[test]
fn every_configuration_trains_with_finite_loss_or_is_refused_clearly() {
    let exp = Experiment::tiny();
    let spec = load_axes(&ablation(&exp, "  train.lr: [0.001, 0.003, 0.03]\n  train.batch_size: [64, 256]\n", "{train.lr: 0.003, train.batch_size: 256}"));
    let templates = vec![json!("a photo of a {}."), json!("a picture of a {}.")];
    let strategy = with_subsets(&spec, "data.train.templates", templates);
    let runs = std::cell::Cell::new(0);
    // Invariant: an empty template list is refused with a message naming `templates`;
    // any other configuration trains one epoch with finite losses and top-1 in [0, 1].
    check_invariant(strategy, 5, |c| {
        runs.set(runs.get() + 1);
        let mut args: Vec<String> = ["run", "clip.rhai", "--config", "tiny.yaml", "train.epochs=1", "train.log_every=1"].map(String::from).to_vec();
        args.extend(c.overrides());
        args.push(format!("--runs-dir=runs/{}", runs.get()));
        let out = plexus(exp.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
        let text = stdout_stderr(&out);
        if c.get("data.train.templates").and_then(Value::as_array).is_some_and(|t| t.is_empty()) {
            return if !out.status.success() && text.contains("templates must be a non-empty list") { Ok(()) } else { Err(format!("empty templates not refused clearly:\n{text}")) };
        }
        if !out.status.success() {
            return Err(format!("run failed:\n{text}"));
        }
        let dir = std::fs::read_dir(exp.path().join(format!("runs/{}", runs.get()))).unwrap().next().unwrap().unwrap().path();
        let log = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        let losses: Vec<f64> = log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()?["train/loss"].as_f64()).collect();
        if losses.is_empty() || losses.iter().any(|l| !l.is_finite()) {
            return Err(format!("losses {losses:?}"));
        }
        let top1 = read_json(&dir.join("summary.json"))["metrics"]["zero_shot_top1"].as_f64().unwrap_or(f64::NAN);
        if !(0.0..=1.0).contains(&top1) {
            return Err(format!("zero_shot_top1 {top1}"));
        }
        Ok(())
    });
    assert_eq!(runs.get(), 5, "every case ran");
}
