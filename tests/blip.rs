//! BLIP with CapFilt (scripts/blip.rhai) on a tiny easy-VQA config learns: retrieval R@1
//! of both BLIP models beats chance (about 1/24: 24 distinct captions, relevance = same
//! caption) and the ITM filter removes more of the planted noise than a random filter
//! (which would remove 30% of it when removing 30% of the captions). Also the CapFilt
//! script helpers: seeded corruption, derived datasets, decoding and their errors.
use plexus_tests::{plexus, read_json, root, stdout_stderr};

fn fetch_easy_vqa() {
    let fetch = plexus(&root(), &["data", "fetch", "easy-vqa"]);
    assert!(fetch.status.success(), "{}", stdout_stderr(&fetch));
}

#[test]
fn tiny_blip_capfilt_beats_chance_and_a_random_filter() {
    fetch_easy_vqa();
    let runs = tempfile::tempdir().unwrap();
    let out = plexus(&root(), &["run", "scripts/blip.rhai", "--config", "experiments/blip_tiny.yaml", "--runs-dir", runs.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let dir = std::fs::read_dir(runs.path()).unwrap().next().unwrap().unwrap().path();
    let summary = read_json(&dir.join("summary.json"));
    let m = &summary["metrics"];
    let get = |k: &str| m[k].as_f64().unwrap_or_else(|| panic!("summary lacks {k}: {summary}"));
    let chance = 1.0 / 24.0;
    for key in ["before_i2t_r1", "before_t2i_r1", "after_i2t_r1", "after_t2i_r1"] {
        assert!(get(key) >= chance + THRESHOLDS.r1_margin, "{key} = {} vs chance {chance:.3}: {m}", get(key));
    }
    assert!(get("filter_removal_recall") >= 0.3 + THRESHOLDS.recall_margin, "removal recall {}: a random filter gets 0.3: {m}", get("filter_removal_recall"));
    assert_eq!(get("filter_planted_noise"), 600.0, "30% of 2,000 captions are planted noise");
    assert!(summary["protocols"]["filter_removal_recall"].as_str().unwrap().contains("600 of 2000"), "{summary}");
    // The filtered set's captions are written into the run folder.
    assert!(dir.join("captions/filtered.jsonl").is_file() && dir.join("captions/noisy.jsonl").is_file());
}

/// Margins over chance. Measured on the tiny config (seed 0): R@1 0.34-0.57 (lowest: the
/// filtered model's t2i), removal recall 0.89 (precision 0.96).
struct Thresholds {
    r1_margin: f64,
    recall_margin: f64,
}
const THRESHOLDS: Thresholds = Thresholds { r1_margin: 0.15, recall_margin: 0.3 };

#[test]
fn capfilt_helpers_corrupt_derive_and_decode() {
    fetch_easy_vqa();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("helpers.rhai");
    std::fs::write(
        &script,
        r#"
let d = dataset("manifest", #{ path: "data/easy-vqa/test-captions.jsonl", limit: 20, image: #{ resize: [8, 8] } });
let clean = d.captions();
if clean.len() != 20 { throw `captions: ${clean.len()}`; }
let a = corrupt_captions(clean, 0.25, 3);
let b = corrupt_captions(clean, 0.25, 3);
let flagged = a.corrupted.filter(|x| x).len();
if flagged != 5 { throw `corrupted ${flagged}`; }
for i in 0..20 {
    if a.captions[i] != b.captions[i] { throw "not seeded"; }
    if a.corrupted[i] != (a.captions[i] != clean[i]) { throw `flag ${i}`; }
}
let kept = a.captions.map(|c| [c, "a made up caption"]);
kept[0] = [];
kept[1] = "only one";
let derived = d.with_captions(kept, "derived");
if derived.len != 19 { throw `derived ${derived.len}`; }
let tok = tokenizer("word", #{ context_length: 6 });
tok.fit([derived], ["caption"]);
let back = tok.decode(tok.encode(["a made up caption", "only one"]));
if back[0] != "a made up caption" || back[1] != "only one" { throw `decode ${back}`; }
let s = caption_scores(["a red circle", "a blue square"], [["a red circle", "a circle"], "a blue square"]);
if s.cider <= 0.0 || s.bleu_1 < 0.999 || s.rouge_l != 1.0 { throw `scores ${s}`; }
d.with_captions(["too few"], "bad");
"#,
    )
    .unwrap();
    let config = dir.path().join("helpers.yaml");
    std::fs::write(&config, "name: helpers\n").unwrap();
    let runs = dir.path().join("runs");
    let out = plexus(&root(), &["run", script.to_str().unwrap(), "--config", config.to_str().unwrap(), "--runs-dir", runs.to_str().unwrap()]);
    let text = stdout_stderr(&out);
    // Everything before the last line passed; the last line is refused with its count.
    assert!(!out.status.success() && text.contains("helpers.rhai:24") && text.contains("with_captions: 1 captions for the 20 examples"), "{text}");
    let run = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let written = std::fs::read_to_string(run.join("captions/derived.jsonl")).unwrap();
    assert_eq!(written.lines().count(), 19);
    assert!(written.lines().next().unwrap().contains("\"caption\":[\"only one\"]"), "{written}");
}
