//! Bad input in scripts, sandbox limits, training settings and the CLI: each gets a
//! clear message naming the script line, config key or file, and no panic.
use plexus_tests::{plexus, stdout_stderr, Experiment};

fn run_script(exp: &Experiment, name: &str, source: &str, extra: &[&str]) -> String {
    std::fs::write(exp.path().join(name), source).unwrap();
    let mut args = vec!["run", name, "--config", "tiny.yaml"];
    args.extend_from_slice(extra);
    let out = plexus(exp.path(), &args);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "expected a clean failure:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}

const PRELUDE: &str = "let cfg = config();\nlet data = dataset(\"fashion_mnist\", cfg.data.train);\n";

#[test]
fn endless_loop_is_stopped_with_a_hint() {
    let exp = Experiment::tiny();
    let err = run_script(&exp, "loop.rhai", "let x = 0;\nloop { x += 1; }\n", &["+script_max_operations=100000"]);
    assert!(err.contains("loop.rhai:2:") && err.contains("more than 100000 operations") && err.contains("script_max_operations"), "{err}");
}

#[test]
fn unbounded_recursion_is_stopped() {
    let exp = Experiment::tiny();
    let err = run_script(&exp, "rec.rhai", "fn f(n) { f(n + 1) }\nf(0);\n", &[]);
    assert!(err.contains("rec.rhai:") && err.contains("unbounded recursion"), "{err}");
}

#[test]
fn imports_cannot_leave_the_sandbox() {
    let exp = Experiment::tiny();
    let err = run_script(&exp, "escape.rhai", "import \"../../etc/passwd\" as p;\n", &[]);
    assert!(err.contains("escape.rhai:1:") && err.contains("no `..`"), "{err}");
    let err = run_script(&exp, "missing.rhai", "import \"helpers\" as h;\n", &[]);
    assert!(err.contains("module `helpers.rhai` not found"), "{err}");
    // A module inside the experiment folder is fine.
    std::fs::write(exp.path().join("helpers.rhai"), "fn twice(x) { x * 2 }\n").unwrap();
    std::fs::write(exp.path().join("ok.rhai"), "import \"helpers\" as h;\nsummary(#{ v: h::twice(21) });\n").unwrap();
    let out = plexus(exp.path(), &["run", "ok.rhai", "--config", "tiny.yaml"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
}

#[test]
fn unknown_dataset_and_split_and_templates() {
    let exp = Experiment::tiny();
    let err = run_script(&exp, "d.rhai", "let d = dataset(\"fashion_mnsit\", #{});\n", &[]);
    assert!(err.contains("unknown dataset `fashion_mnsit` (did you mean `fashion_mnist`?)"), "{err}");
    let err = run_script(&exp, "s.rhai", "let cfg = config();\nlet d = dataset(\"fashion_mnist\", cfg.data.train.merge(#{ split: \"val\" }));\n", &[]);
    assert!(err.contains("s.rhai:2:") && err.contains("unknown split `val`"), "{err}");
    let err = run_script(&exp, "t.rhai", "let d = dataset(\"fashion_mnist\", #{ root: \"data\", templates: [\"no placeholder\"] });\n", &[]);
    assert!(err.contains("templates must be a non-empty list, each with one `{}`"), "{err}");
}

#[test]
fn evaluate_needs_metrics() {
    let exp = Experiment::tiny();
    let src = format!("{PRELUDE}let tok = tokenizer(\"word\", #{{}});\ntok.fit(data);\nlet t = encoder(\"text_transformer\", #{{ vocab_size: tok.vocab_size, width: 8, heads: 1, layers: 1, output_dim: 4 }});\nlet i = encoder(\"vit\", #{{ image_size: 28, patch_size: 7, in_channels: 1, width: 8, layers: 1, head_width: 8, output_dim: 4 }});\nevaluate(dual_encoder(i, t, tok), data, [1, 2]);\n");
    let err = run_script(&exp, "e.rhai", &src, &[]);
    assert!(err.contains("e.rhai:7:") && err.contains("every element of the list must be a metric"), "{err}");
}

#[test]
fn bad_training_settings_name_the_key() {
    let exp = Experiment::tiny();
    let out = exp.run(&["train.batch_size=4", "+train.accumulate=4"]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("clip.rhai:") && text.contains("accumulate"), "{text}");

    let out = exp.run(&["+train.optimizer=adam"]);
    let text = stdout_stderr(&out);
    assert!(text.contains("tiny.yaml: train: optimizer: unknown variant `adam`, expected `adamw` or `sgd`"), "{text}");

    let out = exp.run(&["threads=many"]);
    let text = stdout_stderr(&out);
    assert!(text.contains("override `threads=many`: expected an integer"), "{text}");
}

#[test]
fn hooks_and_helpers_check_their_arguments() {
    let exp = Experiment::tiny();
    let err = run_script(&exp, "es.rhai", "let e = early_stopping(\"acc\", 2, \"up\");\n", &[]);
    assert!(err.contains("es.rhai:1:") && err.contains("mode `up` must be \"max\" or \"min\""), "{err}");
    let err = run_script(&exp, "es2.rhai", "let e = early_stopping(\"acc\", 2, \"max\");\ne.should_stop(#{ loss: 1.0 });\n", &[]);
    assert!(err.contains("es2.rhai:2:") && err.contains("scores have no number `acc`"), "{err}");
}

#[test]
fn freezing_an_unknown_scope_lists_the_scopes() {
    let exp = Experiment::tiny();
    exp.edit("clip.rhai", "let metrics = [", "trainer.freeze(\"vision\");\nlet metrics = [");
    let out = exp.run(&[]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no parameter name starts with `vision`") && text.contains("visual"), "{text}");
}

#[test]
fn config_extends_a_missing_preset() {
    let exp = Experiment::tiny();
    std::fs::write(exp.path().join("child.yaml"), "extends: nowhere.yaml\n").unwrap();
    let out = plexus(exp.path(), &["run", "clip.rhai", "--config", "child.yaml"]);
    let text = stdout_stderr(&out);
    assert!(text.contains("child.yaml: extends:") && text.contains("nowhere.yaml does not exist"), "{text}");
}

#[test]
fn cli_usage_errors_are_explained() {
    let exp = Experiment::tiny();
    let out = plexus(exp.path(), &["run", "clip.rhai"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout_stderr(&out).contains("--config"), "{}", stdout_stderr(&out));
    let out = plexus(exp.path(), &["run", "nope.rhai", "--config", "tiny.yaml"]);
    assert!(stdout_stderr(&out).contains("nope.rhai: No such file"), "{}", stdout_stderr(&out));
    let out = plexus(exp.path(), &["run", "clip.rhai", "--config", "nope.yaml"]);
    assert!(stdout_stderr(&out).contains("nope.yaml: No such file"), "{}", stdout_stderr(&out));
}

#[test]
fn resuming_with_a_changed_model_is_refused() {
    let exp = Experiment::tiny();
    assert!(exp.run(&["train.epochs=1"]).status.success());
    let run = exp.only_run_dir();
    let cfg = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    std::fs::write(run.join("config.yaml"), cfg.replacen("width: 32", "width: 48", 1)).unwrap();
    let out = plexus(exp.path(), &["run", "--resume", run.to_str().unwrap()]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("last.safetensors") && text.contains("has shape") && text.contains("the model needs"), "{text}");
}
