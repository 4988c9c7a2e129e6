//! `plexus check` validates everything by building it and running one tiny batch.
use plexus_tests::{plexus, stdout_stderr, Experiment};

#[test]
fn check_builds_everything_and_leaves_no_run_folder() {
    let exp = Experiment::tiny();
    let out = plexus(exp.path(), &["check", "clip.rhai", "--config", "tiny.yaml"]);
    let text = stdout_stderr(&out);
    assert!(out.status.success(), "{text}");
    for needle in ["check passed", "encoder vit", "scope `visual`", "encoder text_transformer", "loss clip", "trainer: Adamw", "metric zero_shot", "dataset fashion_mnist split `train`: 64 examples"] {
        assert!(text.contains(needle), "`{needle}` missing:\n{text}");
    }
    assert!(!exp.path().join("runs").exists(), "check must not create run folders");
}

#[test]
fn check_fails_on_problems_that_appear_only_when_components_are_built() {
    let exp = Experiment::tiny();
    exp.edit("tiny.yaml", "    patch_size: 7", "    patch_size: 5");
    let out = plexus(exp.path(), &["check", "clip.rhai", "--config", "tiny.yaml"]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("check failed") && text.contains("image_size 28 must be a multiple of patch_size 5"), "{text}");
}
