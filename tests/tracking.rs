//! TensorBoard event files that TensorBoard's own reader parses, matching metrics.jsonl.
use std::process::Command;

use plexus_tests::{stdout_stderr, venv_python, Experiment};

const READER: &str = r#"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
print(json.dumps({tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}))
"#;

#[test]
fn tensorboard_reads_back_every_logged_scalar() {
    let exp = Experiment::tiny();
    let out = exp.run(&["train.epochs=1"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let run = exp.only_run_dir();
    let read = Command::new(venv_python()).args(["-c", READER, run.join("tb").to_str().unwrap()]).output().unwrap();
    assert!(read.status.success(), "{}", stdout_stderr(&read));
    let scalars: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();

    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let step = record["step"].as_i64().unwrap();
        for (tag, value) in record.as_object().unwrap() {
            let Some(v) = value.as_f64() else { continue };
            if tag == "step" || tag == "epoch" {
                continue;
            }
            let series = scalars[tag].as_array().unwrap_or_else(|| panic!("tag {tag} missing in {scalars}"));
            let hit = series.iter().find(|p| p[0].as_i64() == Some(step)).unwrap_or_else(|| panic!("{tag}@{step} missing"));
            assert!((hit[1].as_f64().unwrap() - v).abs() <= 1e-6 * v.abs().max(1.0), "{tag}@{step}: {hit} vs {v}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} scalars compared");
    assert!(scalars.get("zero_shot_top1").is_some() && scalars.get("train/loss").is_some());
}
