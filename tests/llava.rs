//! LLaVA-style VQA (scripts/llava.rhai) on a tiny easy-VQA config learns: test accuracy of
//! the generated answer token well above always answering the most frequent answer ("yes",
//! 0.37 of the first 1,000 test questions).
use plexus_tests::{plexus, read_json, root, stdout_stderr};

#[test]
fn tiny_llava_answers_well_above_the_majority_answer() {
    let fetch = plexus(&root(), &["data", "fetch", "easy-vqa"]);
    assert!(fetch.status.success(), "{}", stdout_stderr(&fetch));
    let runs = tempfile::tempdir().unwrap();
    let out = plexus(
        &root(),
        &["run", "scripts/llava.rhai", "--config", "experiments/llava_tiny.yaml", "--runs-dir", runs.path().to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let dir = std::fs::read_dir(runs.path()).unwrap().next().unwrap().unwrap().path();
    let summary = read_json(&dir.join("summary.json"));
    let accuracy = summary["metrics"]["vqa_accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.55, "easy-VQA accuracy {accuracy}: the majority answer scores 0.37");
    assert!(summary["protocols"]["vqa_accuracy"].as_str().unwrap().contains("exact match"), "{summary}");
}

#[test]
fn fitting_a_tokenizer_on_an_unknown_text_field_names_it() {
    let fetch = plexus(&root(), &["data", "fetch", "easy-vqa"]);
    assert!(fetch.status.success(), "{}", stdout_stderr(&fetch));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fit.rhai");
    std::fs::write(
        &script,
        "let d = dataset(\"manifest\", #{ path: \"data/easy-vqa/test.jsonl\", limit: 10 });\nlet tok = tokenizer(\"word\", #{});\ntok.fit([d], [\"questions\"]);\n",
    )
    .unwrap();
    let config = dir.path().join("fit.yaml");
    std::fs::write(&config, "name: fit\n").unwrap();
    let runs = dir.path().join("runs");
    let out = plexus(&root(), &["run", script.to_str().unwrap(), "--config", config.to_str().unwrap(), "--runs-dir", runs.to_str().unwrap()]);
    let text = stdout_stderr(&out);
    assert!(!out.status.success() && text.contains("fit.rhai:3") && text.contains("unknown text field `questions`"), "{text}");
}
