//! scripts/fused_classification.rhai with experiments/fused_classification_tiny.yaml, on toy data: every fusion
//! trains through the built-in trainer (with modality dropout and the
//! fused_classification loss) with finite, decreasing loss; a fusion whose width does not
//! match the encoders is refused with the script line.
use plexus_tests::{plexus, read_json, root, stdout_stderr, write_toy_fashion_mnist};

fn experiment() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_toy_fashion_mnist(&dir.path().join("data"), 1280, 200);
    std::fs::copy(root().join("scripts/fused_classification.rhai"), dir.path().join("fusion.rhai")).unwrap();
    let config = std::fs::read_to_string(root().join("experiments/fused_classification_tiny.yaml")).unwrap().replace("root: data/fashion-mnist", "root: data");
    std::fs::write(dir.path().join("tiny.yaml"), config).unwrap();
    dir
}

#[test]
fn every_fusion_trains_from_the_script() {
    let dir = experiment();
    for kind in ["early", "late", "gated", "cross_attention", "multimodal_transformer"] {
        let runs = format!("runs-{kind}");
        let args = ["run", "fusion.rhai", "--config", "tiny.yaml", "--runs-dir", &runs, &format!("model.fusion_kind={kind}"), "train.epochs=3"];
        let out = plexus(dir.path(), &args);
        assert!(out.status.success(), "{kind}: {}", stdout_stderr(&out));
        let run = std::fs::read_dir(dir.path().join(&runs)).unwrap().next().unwrap().unwrap().path();
        let summary = read_json(&run.join("summary.json"));
        let s = if summary["metrics"].is_object() { &summary["metrics"] } else { &summary };
        let (first, last) = (s["first_epoch_loss"].as_f64().unwrap(), s["train_loss"].as_f64().unwrap());
        assert!(first.is_finite() && last.is_finite(), "{kind}: {summary}");
        assert!(last < first, "{kind}: loss did not decrease over 3 epochs: {first} -> {last}");
        assert_eq!(s["fusion_output_dim"], 32, "{kind}: {summary}");
    }
}

#[test]
fn fusion_of_the_wrong_width_is_refused_at_the_script_line() {
    let dir = experiment();
    let out = plexus(dir.path(), &["run", "fusion.rhai", "--config", "tiny.yaml", "model.fusion.input_dim=16"]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("fusion.rhai:17:") && text.contains("embeddings of width 32"), "{text}");
}

/// Masking and fusion are seeded: the same seed gives the same losses, another seed others.
#[test]
fn fused_training_is_reproducible_from_the_seed() {
    let dir = experiment();
    let loss = |runs: &str, seed: &str| {
        let out = plexus(dir.path(), &["run", "fusion.rhai", "--config", "tiny.yaml", "--runs-dir", runs, &format!("seed={seed}"), "model.fusion_kind=cross_attention"]);
        assert!(out.status.success(), "{}", stdout_stderr(&out));
        let run = std::fs::read_dir(dir.path().join(runs)).unwrap().next().unwrap().unwrap().path();
        let summary = read_json(&run.join("summary.json"));
        let s = if summary["metrics"].is_object() { summary["metrics"].clone() } else { summary };
        s["train_loss"].as_f64().unwrap()
    };
    let (a, b, c) = (loss("a", "3"), loss("b", "3"), loss("c", "4"));
    assert_eq!(a, b, "same seed, different loss");
    assert_ne!(a, c, "different seeds gave the same loss");
}
