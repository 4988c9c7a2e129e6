//! AudioCLIP (scripts/audioclip.rhai) on a tiny av-digits config learns: zero-shot audio
//! digit classification against the ten digit words, and same-digit audio→image retrieval,
//! both well above chance (0.1: ten balanced classes).
use plexus_tests::{plexus, read_json, root, stdout_stderr};

#[test]
fn tiny_audioclip_learns_well_above_chance() {
    let fetch = plexus(&root(), &["data", "fetch", "av-digits"]);
    assert!(fetch.status.success(), "{}", stdout_stderr(&fetch));
    let runs = tempfile::tempdir().unwrap();
    let out = plexus(
        &root(),
        &["run", "scripts/audioclip.rhai", "--config", "experiments/audioclip_tiny.yaml", "--runs-dir", runs.path().to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let dir = std::fs::read_dir(runs.path()).unwrap().next().unwrap().unwrap().path();
    let m = &read_json(&dir.join("summary.json"))["metrics"];
    let (zero_shot, r1) = (m["audio_zero_shot_top1"].as_f64().unwrap(), m["audio_image_r1"].as_f64().unwrap());
    assert!(zero_shot >= 0.3, "zero-shot audio top-1 {zero_shot}: chance is 0.1");
    assert!(r1 >= 0.2, "audio→image R@1 {r1}: chance is 0.1");
}
