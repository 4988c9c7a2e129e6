//! `plexus score`: each metric family through the binary (against pycocoevalcap for the
//! caption metrics, by hand for the others), and clear errors on bad input files.
use std::path::Path;
use std::process::Output;

use plexus_plugin::serde_json::{self, json, Value};
use plexus_plugin::tch::Tensor;
use plexus_tests::{plexus, root, stdout_stderr};

fn write(dir: &Path, name: &str, v: &Value) -> String {
    std::fs::write(dir.join(name), serde_json::to_vec(v).unwrap()).unwrap();
    name.to_string()
}

fn score(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["score"];
    all.extend_from_slice(args);
    plexus(dir, &all)
}

fn scores_json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stdout_stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_stderr(out)))
}

fn python_json(script: &str, dir: &Path) -> Value {
    let py = root().join(".venv/bin/python");
    let out = std::process::Command::new(&py).arg("-c").arg(script).current_dir(dir).env("OMP_NUM_THREADS", "1").output().unwrap();
    assert!(out.status.success(), "{} failed (run tools/setup-venv.sh): {}", py.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap()
}

/// Generated captions: 40 images, 1..5 references, candidates sharing words with them.
fn captions(raw: bool) -> (Value, Value) {
    let words = ["a", "man", "dog", "riding", "bike", "on", "the", "street", "red", "two", "people", "sitting"];
    let mut state = 7u64;
    let mut next = |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    let (mut preds, mut refs) = (serde_json::Map::new(), serde_json::Map::new());
    for id in 0..40 {
        let sentence = |next: &mut dyn FnMut(usize) -> usize| {
            let mut s: Vec<&str> = (0..2 + next(9)).map(|_| words[next(words.len())]).collect();
            // Not "… a." at the end: CoreNLP splits a final single letter's period or not
            // depending on the next line's capitalisation, which ptb.rs does not reproduce.
            if s.last() == Some(&"a") {
                s.push("street");
            }
            let s = s.join(" ");
            if raw { format!("{}{}.", s[..1].to_uppercase(), &s[1..]) } else { s }
        };
        preds.insert(format!("img{id}"), sentence(&mut next).into());
        let rs: Vec<Value> = (0..1 + next(5)).map(|_| sentence(&mut next).into()).collect();
        refs.insert(format!("img{id}"), rs.into());
    }
    (preds.into(), refs.into())
}

#[test]
fn caption_scores_match_pycocoevalcap_on_tokenised_text() {
    let dir = tempfile::tempdir().unwrap();
    let (p, r) = captions(false);
    write(dir.path(), "pred.json", &p);
    write(dir.path(), "ref.json", &r);
    let ours = scores_json(&score(dir.path(), &["caption", "--pred", "pred.json", "--ref", "ref.json", "--pretokenized", "--json"]));
    let want = python_json(
        r#"
import json
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.cider.cider import Cider
p, r = json.load(open("pred.json")), json.load(open("ref.json"))
res = {k: [v] for k, v in p.items()}
b, _ = Bleu(4).compute_score(r, res, verbose=0)
out = {f"bleu_{i+1}": x for i, x in enumerate(b)}
out["rouge_l"] = float(Rouge().compute_score(r, res)[0])
out["cider"] = float(Cider().compute_score(r, res)[0])
print(json.dumps(out))
"#,
        dir.path(),
    );
    for (k, v) in want.as_object().unwrap() {
        let (a, b) = (ours[k].as_f64().unwrap_or_else(|| panic!("no {k} in {ours}")), v.as_f64().unwrap());
        assert!((a - b).abs() <= 1e-6, "{k}: plexus {a}, pycocoevalcap {b}");
    }
}

#[test]
fn raw_captions_are_ptb_tokenised_like_coco_eval_cap() {
    if std::process::Command::new("java").arg("-version").output().is_err() {
        eprintln!("SKIPPED: no `java` for pycocoevalcap's tokenizer");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (p, r) = captions(true);
    write(dir.path(), "pred.json", &p);
    write(dir.path(), "ref.json", &r);
    let ours = scores_json(&score(dir.path(), &["caption", "--pred", "pred.json", "--ref", "ref.json", "--json"]));
    let want = python_json(
        r#"
import json
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
p, r = json.load(open("pred.json")), json.load(open("ref.json"))
res = PTBTokenizer().tokenize({k: [{"caption": v}] for k, v in p.items()})
gts = PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in r.items()})
print(json.dumps({"bleu_4": Bleu(4).compute_score(gts, res, verbose=0)[0][3], "cider": float(Cider().compute_score(gts, res)[0])}))
"#,
        dir.path(),
    );
    for k in ["bleu_4", "cider"] {
        let (a, b) = (ours[k].as_f64().unwrap(), want[k].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-6, "{k}: plexus {a}, COCOEvalCap pipeline {b}");
    }
}

#[test]
fn vqa_wer_cer_and_retrieval_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // q1: "Two" ≡ "2", given by 4 of 10 → 1. q2: "no" given by 1 of 10 → (9·1/3 + 0)/10 = 0.3.
    write(d, "vp.json", &json!({"q1": "Two", "q2": "no"}));
    write(d, "vr.json", &json!({"q1": ["2", "2", "2", "2", "3", "3", "3", "3", "3", "3"], "q2": ["no", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes"]}));
    let v = scores_json(&score(d, &["vqa", "--pred", "vp.json", "--ref", "vr.json", "--json"]));
    assert!((v["vqa_acc"].as_f64().unwrap() - (1.0 + 0.3) / 2.0).abs() < 1e-12, "{v}");
    // 1 substitution over 4 reference words; 2 char edits over 9 reference chars.
    write(d, "wp.json", &json!({"a": "the cat sat", "b": "hi"}));
    write(d, "wr.json", &json!({"a": "the cat sat", "b": "hello"}));
    let w = scores_json(&score(d, &["wer", "--pred", "wp.json", "--ref", "wr.json", "--json"]));
    assert_eq!(w["wer"].as_f64().unwrap(), 1.0 / 4.0);
    let c = scores_json(&score(d, &["cer", "--pred", "wp.json", "--ref", "wr.json", "--json"]));
    assert_eq!(c["cer"].as_f64().unwrap(), 4.0 / 16.0); // "hi" → "hello": 4 edits; 11 + 5 chars
    // Query 0 finds its relevant item 1 first; query 1's relevant items 0 and 2 rank 2nd and 3rd.
    let sims = Tensor::from_slice2(&[[0.1f32, 0.9, 0.2], [0.5, 0.9, 0.3]]);
    Tensor::write_safetensors(&[("sims", &sims)], d.join("sims.safetensors")).unwrap();
    write(d, "rel.json", &json!({"0": [1], "1": [0, 2]}));
    let r = scores_json(&score(d, &["retrieval", "--pred", "sims.safetensors", "--ref", "rel.json", "--ks", "1,2", "--json"]));
    assert_eq!(r["r1"].as_f64().unwrap(), 0.5);
    assert_eq!(r["r2"].as_f64().unwrap(), 1.0);
    assert_eq!(r["recall2"].as_f64().unwrap(), (1.0 + 0.5) / 2.0);
    assert_eq!(r["mrr"].as_f64().unwrap(), (1.0 + 0.5) / 2.0);
    assert_eq!(r["medr"].as_f64().unwrap(), 1.5);
}

#[test]
fn bad_inputs_name_the_file_and_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "ref.json", &json!({"1": ["a dog"], "2": ["a cat"]}));
    write(d, "missing.json", &json!({"1": "a dog"}));
    write(d, "extra.json", &json!({"1": "a dog", "2": "a cat", "9": "a cow"}));
    write(d, "number.json", &json!({"1": "a dog", "2": 7}));
    write(d, "list.json", &json!(["a dog"]));
    std::fs::write(d.join("broken.json"), "{\"1\": ").unwrap();
    write(d, "badref.json", &json!({"1": ["a dog"], "2": {"x": 1}}));
    write(d, "rel.json", &json!({"0": [1], "5": [0]}));
    Tensor::write_safetensors(&[("scores", &Tensor::from_slice2(&[[0.1f32, 0.2]]))], d.join("nosims.safetensors")).unwrap();
    Tensor::write_safetensors(&[("sims", &Tensor::from_slice2(&[[0.1f32, 0.2]]))], d.join("sims.safetensors")).unwrap();
    let cases: [(&[&str], &[&str]); 8] = [
        (&["bleu", "--pred", "missing.json", "--ref", "ref.json"], &["missing.json", "`2`"]),
        (&["cider", "--pred", "extra.json", "--ref", "ref.json"], &["extra.json", "`9`", "no reference"]),
        (&["caption", "--pred", "number.json", "--ref", "ref.json"], &["number.json", "`2`", "expected a string"]),
        (&["vqa", "--pred", "list.json", "--ref", "ref.json"], &["list.json", "JSON object"]),
        (&["wer", "--pred", "broken.json", "--ref", "ref.json"], &["broken.json", "not valid JSON"]),
        (&["rouge_l", "--pred", "extra.json", "--ref", "badref.json"], &["extra.json", "`9`"]),
        (&["retrieval", "--pred", "nosims.safetensors", "--ref", "rel.json"], &["nosims.safetensors", "`sims`", "scores"]),
        (&["retrieval", "--pred", "sims.safetensors", "--ref", "rel.json"], &["rel.json", "`5`", "0..1"]),
    ];
    for (args, needles) in cases {
        let out = score(d, args);
        let text = stdout_stderr(&out);
        assert!(!out.status.success(), "{args:?} should fail: {text}");
        assert!(!text.contains("panicked"), "{args:?} panicked: {text}");
        for n in needles {
            assert!(text.contains(n), "{args:?}: `{n}` missing from: {text}");
        }
    }
    let out = score(d, &["rouge_l", "--pred", "number.json", "--ref", "badref.json"]);
    assert!(stdout_stderr(&out).contains("badref.json") || stdout_stderr(&out).contains("number.json"));
    let out = score(d, &["bleu5", "--pred", "missing.json", "--ref", "ref.json"]);
    assert!(!out.status.success() && stdout_stderr(&out).contains("bleu"), "{}", stdout_stderr(&out));
}
