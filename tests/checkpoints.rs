//! Checkpoint files: PyTorch loads the weights; gradient accumulation trains.
use std::process::Command;

use plexus_tests::{read_json, stdout_stderr, venv_python, Experiment};

const LOAD: &str = r#"
import json, sys
from safetensors.torch import load_file
w = load_file(sys.argv[1])
print(json.dumps({k: [list(v.shape), str(v.dtype), float(v.float().sum())] for k, v in w.items()}))
"#;

#[test]
fn weights_load_in_pytorch_with_the_same_values() {
    let exp = Experiment::tiny();
    assert!(exp.run(&["train.epochs=1"]).status.success());
    let path = exp.only_run_dir().join("weights.safetensors");
    let out = Command::new(venv_python()).args(["-c", LOAD, path.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let torch_view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (ours, _) = plexus::checkpoint::read_tensors(&path).unwrap();
    assert_eq!(torch_view.as_object().unwrap().len(), ours.len());
    for (name, t) in &ours {
        let entry = &torch_view[name];
        assert_eq!(entry[0], serde_json::json!(t.size()), "{name}");
        assert_eq!(entry[1], "torch.float32", "{name}");
        let sum = t.sum(tch::Kind::Double).double_value(&[]);
        assert!((entry[2].as_f64().unwrap() - sum).abs() <= 1e-3 * sum.abs().max(1.0), "{name}: {entry} vs {sum}");
    }
    assert!(ours.contains_key("visual.conv1.weight") && ours.contains_key("clip_loss.logit_scale"));
}

#[test]
fn gradient_accumulation_and_sgd_train() {
    let exp = Experiment::tiny();
    for args in [vec!["train.epochs=1", "+train.accumulate=2"], vec!["train.epochs=1", "+train.optimizer=sgd", "train.lr=0.05", "+train.schedule=step"]] {
        let out = exp.run(&args);
        assert!(out.status.success(), "{args:?}: {}", stdout_stderr(&out));
    }
    for run in exp.run_dirs() {
        let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        let losses: Vec<f64> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?.get("train/loss")?.as_f64())
            .collect();
        assert!(losses.len() >= 2 && losses.iter().all(|l| l.is_finite()), "{losses:?}");
        assert!(losses.last().unwrap() < &losses[0], "loss should fall: {losses:?}");
        assert_eq!(read_json(&run.join("summary.json"))["status"], "completed");
    }
}
