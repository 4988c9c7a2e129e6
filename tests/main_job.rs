//! The main job end to end through the `plexus` binary, on a toy dataset in
//! Fashion-MNIST's format (the real-data run is `make run`).
use plexus_tests::{read_json, stdout_stderr, Experiment};

#[test]
fn tiny_clip_experiment_trains_evaluates_and_records_the_run() {
    let exp = Experiment::tiny();
    let out = exp.run(&[]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let run = exp.only_run_dir();
    for file in ["config.yaml", "script.rhai", "plugins.json", "metrics.jsonl", "summary.json"] {
        assert!(run.join(file).exists(), "{file} missing in {}", run.display());
    }
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["status"], "completed");
    let metrics = &summary["metrics"];
    for key in ["zero_shot_top1", "i2t_r1", "t2i_r1"] {
        let v = metrics[key].as_f64().unwrap_or_else(|| panic!("{key} missing: {summary}"));
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    // Ten classes: chance is 0.1. The toy classes are trivially separable.
    let zero_shot = metrics["zero_shot_top1"].as_f64().unwrap();
    assert!(zero_shot >= 0.5, "zero-shot top-1 {zero_shot} is not far above chance (0.1)");
    let plugins = read_json(&run.join("plugins.json"));
    let names: Vec<&str> = plugins.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for needed in ["plexus-vision", "plexus-text", "plexus-losses", "plexus-metrics", "plexus-samplers"] {
        assert!(names.contains(&needed), "{needed} not recorded in plugins.json: {names:?}");
    }
    assert!(plugins[0]["fingerprint"].as_str().unwrap().contains("torch=2.11.0"));
    let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(records.iter().any(|r| r.get("train/loss").is_some()), "no step lines");
    assert!(records.iter().any(|r| r.get("train/epoch_loss").is_some()), "no epoch lines");
    assert!(records.iter().any(|r| r.get("zero_shot_top1").is_some()), "no eval line");
    for plot in ["plots/loss.png", "plots/metrics.png"] {
        let bytes = std::fs::read(run.join(plot)).unwrap_or_else(|e| panic!("{plot}: {e}"));
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000, "{plot} is not a drawn PNG");
    }
    let log = std::fs::read_to_string(run.join("plexus.log")).unwrap();
    assert!(log.contains("step 5 loss") && log.contains("DEBUG"), "run log: {log}");
}

/// The whole point of scripts + YAML: change both, rerun, no cargo build in between.
#[test]
fn yaml_values_and_script_lines_take_effect_without_recompiling() {
    let exp = Experiment::tiny();
    let first = exp.run(&[]);
    assert!(first.status.success(), "{}", stdout_stderr(&first));

    exp.edit("tiny.yaml", "epochs: 2", "epochs: 1");
    exp.edit("tiny.yaml", "batch_size: 128", "batch_size: 32");
    exp.edit("clip.rhai", "summary(scores);", "summary(scores);\nsummary(#{ marker: 42 });");
    let second = exp.run(&[]);
    assert!(second.status.success(), "{}", stdout_stderr(&second));

    let runs = exp.run_dirs();
    assert_eq!(runs.len(), 2);
    let steps = |dir: &std::path::Path| -> u64 {
        let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap()).max().unwrap()
    };
    // 1280 examples: 2 epochs × 10 batches of 128, then 1 epoch × 40 batches of 32.
    assert_eq!(steps(&runs[0]), 20);
    assert_eq!(steps(&runs[1]), 40);
    let epochs = |dir: &std::path::Path| std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap().matches("train/epoch_loss").count();
    assert_eq!(epochs(&runs[0]), 2);
    assert_eq!(epochs(&runs[1]), 1);
    assert!(read_json(&runs[0].join("summary.json"))["metrics"].get("marker").is_none());
    assert_eq!(read_json(&runs[1].join("summary.json"))["metrics"]["marker"], 42);
}

#[test]
fn command_line_overrides_reach_the_run_and_its_record() {
    let exp = Experiment::tiny();
    let out = exp.run(&["train.epochs=1", "+train.grad_clip_norm=1.0"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let run = exp.only_run_dir();
    let config = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    assert!(config.contains("epochs: 1"), "{config}");
    assert!(config.contains("grad_clip_norm: 1.0"), "{config}");
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(text.matches("train/epoch_loss").count(), 1);
}

#[test]
fn hooks_freezing_and_early_stopping_script_runs() {
    let exp = Experiment::tiny();
    std::fs::copy(plexus_tests::root().join("scripts/clip_hooks.rhai"), exp.path().join("clip_hooks.rhai")).unwrap();
    let out = plexus_tests::plexus(exp.path(), &["run", "clip_hooks.rhai", "--config", "tiny.yaml"]);
    let text = stdout_stderr(&out);
    assert!(out.status.success(), "{text}");
    // One text block (12 tensors) + embeddings, final norm and projection (5).
    assert!(text.contains("froze 17 text parameters"), "{text}");
    let run = exp.only_run_dir();
    let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let progress = records.iter().filter(|r| r["tag"] == "progress").count();
    assert_eq!(progress, 4, "on_step every 5 steps over 20 steps: {lines}");
    let evals = records.iter().filter(|r| r["tag"] == "eval").count();
    assert_eq!(evals, 2, "on_eval after each of 2 epochs: {lines}");
    assert!(read_json(&run.join("summary.json"))["metrics"]["zero_shot_top1"].as_f64().is_some());
}

#[test]
fn a_frozen_tower_does_not_change() {
    let exp = Experiment::tiny();
    exp.edit("clip.rhai", "let metrics = [", "trainer.freeze(\"text\");\nlet metrics = [");
    assert!(exp.run(&["train.epochs=1"]).status.success());
    let run = exp.only_run_dir();
    let trained = plexus::checkpoint::read_tensors(&run.join("weights.safetensors")).unwrap().0;
    // Same seed and config, no training: the initial weights.
    exp.edit("clip.rhai", "for epoch in 0..trainer.epochs {", "for epoch in 0..0 {");
    exp.edit("clip.rhai", "let scores = evaluate(model, test, metrics);", "trainer.save_checkpoint();\nlet scores = evaluate(model, test, metrics);");
    assert!(exp.run(&["train.epochs=1"]).status.success());
    let initial_run = exp.run_dirs().into_iter().find(|d| *d != run).unwrap();
    let initial = plexus::checkpoint::read_tensors(&initial_run.join("weights.safetensors")).unwrap().0;
    let mut text_checked = 0;
    for (name, t) in &trained {
        if name.starts_with("text.") {
            assert!(t.equal(&initial[name]), "{name} moved while frozen");
            text_checked += 1;
        }
    }
    assert!(text_checked > 0);
    assert!(!trained["visual.proj"].equal(&initial["visual.proj"]), "the image tower must have trained");
}
