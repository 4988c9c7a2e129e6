//! A property-tested ablation over the fusion experiment (scripts/fusion.rhai): for every
//! fusion and every subset of the modalities fed to it, one epoch of training gives finite
//! losses and an accuracy in [0, 1]; the empty subset is refused with a message naming
//! `model.inputs`. Configurations come from the axes of an ablation file
//! (tests/support/ablation_props.rs), so a failure shrinks to a minimal configuration.
use std::path::PathBuf;

use plexus_tests::ablation_props::*;
use plexus_tests::{plexus, read_json, root, stdout_stderr};
use serde_json::{json, Value};

#[test]
fn every_fusion_and_modality_subset_trains_with_finite_loss() {
    let fetch = plexus(&root(), &["data", "fetch", "av-digits"]);
    assert!(fetch.status.success(), "{}", stdout_stderr(&fetch));
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("f.ablation.yaml");
    let axes = "model.fusion: [early, late, gated, cross_attention, multimodal_transformer]";
    std::fs::write(
        &file,
        format!(
            "name: f\nscript: {}\nconfig: {}\naxes:\n  {axes}\nseeds: 2\nbaseline: {{model.fusion: early}}\nmetrics:\n  accuracy: {{direction: higher}}\n",
            root().join("scripts/fusion.rhai").display(),
            root().join("experiments/fusion_tiny.yaml").display()
        ),
    )
    .unwrap();
    let spec = load_axes(&file);
    let strategy = with_subsets(&spec, "model.inputs", vec![json!("image"), json!("audio")]);
    let runs = std::cell::Cell::new(0);
    check_invariant(strategy, 6, |c| {
        runs.set(runs.get() + 1);
        let out_dir = dir.path().join(format!("runs/{}", runs.get()));
        let mut args: Vec<String> = ["run", "scripts/fusion.rhai", "--config", "experiments/fusion_tiny.yaml"].map(String::from).to_vec();
        args.extend(c.overrides());
        args.push(format!("--runs-dir={}", out_dir.display()));
        let out = plexus(&root(), &args.iter().map(String::as_str).collect::<Vec<_>>());
        let text = stdout_stderr(&out);
        if c.get("model.inputs").and_then(Value::as_array).is_some_and(|m| m.is_empty()) {
            return if !out.status.success() && text.contains("model.inputs") { Ok(()) } else { Err(format!("empty inputs not refused clearly:\n{text}")) };
        }
        if !out.status.success() {
            return Err(format!("run failed:\n{text}"));
        }
        let run = std::fs::read_dir(&out_dir).unwrap().next().unwrap().unwrap().path();
        let log = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        let losses: Vec<f64> = log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()?["loss"].as_f64()).collect();
        if losses.is_empty() || losses.iter().any(|l| !l.is_finite()) {
            return Err(format!("losses {losses:?}"));
        }
        let accuracy = read_json(&run.join("summary.json"))["metrics"]["accuracy"].as_f64().unwrap_or(f64::NAN);
        if !(0.0..=1.0).contains(&accuracy) {
            return Err(format!("accuracy {accuracy}"));
        }
        Ok(())
    });
    assert_eq!(runs.get(), 6, "every case ran");
}
