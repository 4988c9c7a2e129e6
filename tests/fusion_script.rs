//! Fusions and masking schedules from Rhai: built by registry name with a config map,
//! introspected, applied; a bad config is an error naming the script line and the key.
use plexus_tests::{plexus, read_json, stdout_stderr, Experiment};

const SCRIPT: &str = r#"
let f = fusion("gated", #{ modalities: ["image", "text"], input_dim: 32, output_dim: 24 }, "fusion");
let drop = masking("modality_dropout", #{ p: 0.5 });
let n = 400;
let all = [];
for i in 0..n { all.push(true); }
let kept = drop.mask(#{ image: all, text: all }, #{ step: 3, progress: 0.5 });
let again = drop.mask(#{ image: all, text: all }, #{ step: 3, progress: 0.5 });
let dropped = 0;
let emptied = 0;
for i in 0..n {
    if !kept.image[i] { dropped += 1; }
    if !kept.text[i] { dropped += 1; }
    if !kept.image[i] && !kept.text[i] { emptied += 1; }
}
let ramp = masking("gradual_integration", #{ schedule: [#{ modality: "text", start: 0.5, ramp: 0.0 }] });
let early = ramp.mask(#{ image: [true, true, false], text: [true, true, true] }, #{ progress: 0.25 });
summary(#{ output_dim: f.output_dim, drop_rate: dropped / (2.0 * n), emptied: emptied, same: kept == again,
           early_text: early.text, early_image: early.image });
"#;

#[test]
fn fusion_and_masking_from_a_script() {
    let exp = Experiment::tiny();
    std::fs::write(exp.path().join("fusion.rhai"), SCRIPT).unwrap();
    let out = plexus(exp.path(), &["run", "fusion.rhai", "--config", "tiny.yaml"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let summary = read_json(&exp.only_run_dir().join("summary.json"));
    let s = if summary["metrics"].is_object() { &summary["metrics"] } else { &summary };
    assert_eq!(s["output_dim"], 24, "{summary}");
    assert_eq!(s["emptied"], 0, "{summary}");
    assert_eq!(s["same"], true, "{summary}");
    // Two modalities, p = 0.5: documented effective rate p - p^2 / 2 = 0.375.
    let rate = s["drop_rate"].as_f64().unwrap();
    assert!((rate - 0.375).abs() < 0.05, "drop rate {rate}");
    // Before its start, text is withheld except where it is all an example has.
    assert_eq!(s["early_text"], serde_json::json!([false, false, true]), "{summary}");
    assert_eq!(s["early_image"], serde_json::json!([true, true, false]), "{summary}");
}

#[test]
fn bad_fusion_config_names_the_line_and_key() {
    let exp = Experiment::tiny();
    std::fs::write(exp.path().join("bad.rhai"), "let ok = 1;\nlet f = fusion(\"early\", #{ input_dim: 8, outptu_dim: 4 });\n").unwrap();
    let out = plexus(exp.path(), &["run", "bad.rhai", "--config", "tiny.yaml"]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("bad.rhai:2:") && text.contains("outptu_dim") && text.contains("did you mean `output_dim`"), "{text}");
    std::fs::write(exp.path().join("bad2.rhai"), "let f = fusion(\"cross_attention\", #{ modalities: [\"image\", \"text\"], query: \"audio\" });\n").unwrap();
    let text = stdout_stderr(&plexus(exp.path(), &["run", "bad2.rhai", "--config", "tiny.yaml"]));
    assert!(text.contains("bad2.rhai:1:") && text.contains("query") && text.contains("`audio` is not in `modalities`"), "{text}");
    std::fs::write(exp.path().join("bad3.rhai"), "let m = masking(\"modality_dropout\", #{});\nm.mask(#{ smell: [true] }, #{});\n").unwrap();
    let text = stdout_stderr(&plexus(exp.path(), &["run", "bad3.rhai", "--config", "tiny.yaml"]));
    assert!(text.contains("bad3.rhai:2:") && text.contains("unknown modality `smell`"), "{text}");
}

/// The trainer tells samplers which modalities each example has: a target group named
/// `image+text` is found (without presence the whole dataset is one group `all`).
#[test]
fn trainer_passes_presence_to_modality_balanced() {
    let exp = Experiment::tiny();
    exp.edit("clip.rhai", "sampler(\"shuffle\", #{})", "sampler(\"modality_balanced\", #{ targets: [#{ group: \"image+text\", ratio: 1.0 }], epoch_size: 300 })");
    let out = exp.run(&["train.epochs=1"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    exp.edit("clip.rhai", "group: \"image+text\"", "group: \"image+audio\"");
    let text = stdout_stderr(&exp.run(&["train.epochs=1"]));
    assert!(text.contains("targets[0].group") && text.contains("no example is in group `image+audio`") && text.contains("image+text"), "{text}");
}
