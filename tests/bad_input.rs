//! Every bad input gets a clear error naming the file, line or key, and no panic.
use plexus_tests::{stdout_stderr, Experiment};

/// Runs the tiny experiment and returns its error output, asserting a clean failure.
fn failure(exp: &Experiment, extra: &[&str]) -> String {
    let out = exp.run(extra);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "expected a clean failure (exit 1):\n{text}");
    assert!(!text.contains("panicked"), "no panic may reach the user:\n{text}");
    text
}

#[test]
fn unknown_component_suggests_the_nearest_name() {
    let exp = Experiment::tiny();
    exp.edit("clip.rhai", "encoder(\"vit\"", "encoder(\"vti\"");
    let err = failure(&exp, &[]);
    assert!(err.contains("unknown encoder `vti` (did you mean `vit`?)"), "{err}");
    assert!(err.contains("clip.rhai:14:"), "script position: {err}");
}

#[test]
fn component_of_the_wrong_kind_is_named() {
    let exp = Experiment::tiny();
    exp.edit("clip.rhai", "loss(\"clip\"", "loss(\"vit\"");
    let err = failure(&exp, &[]);
    assert!(err.contains("`vit` is a encoder, not a loss") || err.contains("`vit` is a encoder"), "{err}");
}

#[test]
fn unknown_yaml_key_names_file_path_and_suggestion() {
    let exp = Experiment::tiny();
    exp.edit("tiny.yaml", "    head_width: 16", "    head_widht: 16");
    let err = failure(&exp, &[]);
    assert!(err.contains("tiny.yaml: model.image: head_widht: unknown key (did you mean `head_width`?)"), "{err}");
}

#[test]
fn mistyped_yaml_value_names_the_key() {
    let exp = Experiment::tiny();
    exp.edit("tiny.yaml", "  epochs: 2", "  epochs: two");
    let err = failure(&exp, &[]);
    assert!(err.contains("tiny.yaml: train: epochs: invalid type: string \"two\""), "{err}");
}

#[test]
fn script_reading_a_missing_config_key_gets_a_suggestion() {
    let exp = Experiment::tiny();
    exp.edit("clip.rhai", "cfg.model.tokenizer", "cfg.model.tokeniser");
    let err = failure(&exp, &[]);
    assert!(err.contains("tiny.yaml: model.tokeniser: no such key (did you mean `tokenizer`?)"), "{err}");
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let exp = Experiment::tiny();
    exp.edit("tiny.yaml", "  batch_size: 128", "  batch_size: [128");
    let err = failure(&exp, &[]);
    assert!(err.contains("tiny.yaml:") && err.contains("YAML syntax error"), "{err}");
    let bad_line = std::fs::read_to_string(exp.path().join("tiny.yaml")).unwrap().lines().position(|l| l.contains("[128")).unwrap() + 1;
    let after = err.split("tiny.yaml:").nth(1).unwrap();
    let line: usize = after.split(':').next().unwrap().parse().unwrap_or_else(|_| panic!("line number in {err}"));
    // The parser notices the open bracket on the next line.
    assert!((bad_line..=bad_line + 1).contains(&line), "line {line} should point at line {bad_line}: {err}");
    assert!(!exp.path().join("runs").exists(), "a config error must not create a run folder");
}

#[test]
fn rhai_syntax_error_has_line_and_column() {
    let exp = Experiment::tiny();
    exp.edit("clip.rhai", "let cfg = config();", "let cfg = config(;");
    let err = failure(&exp, &[]);
    assert!(err.contains("clip.rhai:5:"), "{err}");
    assert!(err.contains("syntax error"), "{err}");
}

#[test]
fn rhai_runtime_error_has_line_and_column_and_is_recorded() {
    let exp = Experiment::tiny();
    exp.edit("clip.rhai", "let cfg = config();", "let cfg = config();\nlet oops = undefined_function(1);");
    let err = failure(&exp, &[]);
    assert!(err.contains("clip.rhai:6:12:"), "{err}");
    assert!(err.contains("undefined_function"), "{err}");
    let summary = plexus_tests::read_json(&exp.only_run_dir().join("summary.json"));
    assert_eq!(summary["status"], "failed");
    assert!(summary["error"].as_str().unwrap().contains("undefined_function"));
}

#[test]
fn missing_dataset_files_say_how_to_fetch_them() {
    let exp = Experiment::tiny();
    std::fs::remove_file(exp.path().join("data/train-images-idx3-ubyte.gz")).unwrap();
    let err = failure(&exp, &[]);
    assert!(err.contains("data/train-images-idx3-ubyte.gz is missing"), "{err}");
    assert!(err.contains("make data"), "{err}");
}

#[test]
fn truncated_dataset_file_is_named() {
    let exp = Experiment::tiny();
    let path = exp.path().join("data/t10k-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = failure(&exp, &[]);
    assert!(err.contains("t10k-labels-idx1-ubyte.gz"), "{err}");
}

#[test]
fn override_of_the_wrong_type_is_refused() {
    let exp = Experiment::tiny();
    let err = failure(&exp, &["train.epochs=many"]);
    assert!(err.contains("override `train.epochs=many`: expected an integer"), "{err}");
    let err = failure(&exp, &["train.epoch=3"]);
    assert!(err.contains("did you mean `epochs`"), "{err}");
}

#[test]
fn bad_device_names_the_key() {
    let exp = Experiment::tiny();
    let err = failure(&exp, &["device=gpu7"]);
    assert!(err.contains("tiny.yaml: device:") && err.contains("auto, cpu, cuda"), "{err}");
}

#[test]
fn mismatched_encoder_widths_are_explained() {
    let exp = Experiment::tiny();
    let err = failure(&exp, &["model.text.output_dim=16"]);
    assert!(err.contains("image output_dim 32 != text output_dim 16"), "{err}");
}
