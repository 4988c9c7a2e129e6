//! `plexus embed` against open_clip 3.x (installed by tools/setup-venv.sh):
//! tests/python/embed_parity.py builds open_clip's `CLIP` from a small config with random
//! weights and writes its state dict, inputs, `encode_image` / `encode_text` outputs and
//! the config as model.yaml; here the binary must reproduce them from those files, and
//! refuse bad configs, weights and inputs with messages naming the key.
use std::path::Path;
use std::process::Command;

use plexus_plugin::tch::Tensor;
use plexus_tests::{plexus, root, stdout_stderr, venv_python};

/// Forward outputs must agree to float32 rounding.
const TOLERANCE: f64 = 1e-5;

fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = root().join("tests/python/embed_parity.py");
    let out = Command::new(venv_python()).arg(&script).arg(dir.path()).env("OMP_NUM_THREADS", "1").output().unwrap();
    assert!(out.status.success(), "{} failed (run tools/setup-venv.sh): {}", script.display(), String::from_utf8_lossy(&out.stderr));
    dir
}

fn named(file: &Path, name: &str) -> Tensor {
    let tensors = Tensor::read_safetensors(file).unwrap();
    tensors.into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing from {}", file.display())).1
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

/// Runs `plexus embed` in `dir` with the fixture model and weights unless overridden.
fn embed(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["embed"];
    if !extra.contains(&"--model") {
        args.extend(["--model", "model.yaml"]);
    }
    if !extra.contains(&"--weights") {
        args.extend(["--weights", "weights.safetensors"]);
    }
    args.extend(extra);
    plexus(dir, &args)
}

/// Asserts that `out` failed and its message contains every one of `needles`.
fn assert_fails_with(out: &std::process::Output, needles: &[&str]) {
    let text = stdout_stderr(out);
    assert!(!out.status.success(), "expected failure, got success: {text}");
    for needle in needles {
        assert!(text.contains(needle), "message lacks `{needle}`: {text}");
    }
}

#[test]
fn embeddings_match_open_clip_encode_image_and_encode_text() {
    let fx = fixtures();
    let dir = fx.path();
    assert!(std::fs::read_to_string(dir.join("version.txt")).unwrap().starts_with("3."));

    let out = embed(dir, &["--pixels", "inputs.safetensors", "--tokens", "inputs.safetensors", "--out", "out.safetensors"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let (ours, theirs) = (dir.join("out.safetensors"), dir.join("expected.safetensors"));
    let image_diff = max_abs_diff(&named(&ours, "image_embeds"), &named(&theirs, "image_embeds"));
    let text_diff = max_abs_diff(&named(&ours, "text_embeds"), &named(&theirs, "text_embeds"));

    let out = embed(dir, &["--images", "wide.png", "tall.png", "--out", "files.safetensors"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let files = dir.join("files.safetensors");
    let files_diff = max_abs_diff(&named(&files, "image_embeds"), &named(&theirs, "image_embeds_from_files"));
    let only_images = Tensor::read_safetensors(&files).unwrap().into_iter().map(|(n, _)| n).collect::<Vec<_>>();

    eprintln!("plexus embed vs open_clip max abs diff: pixels {image_diff:.3e}, tokens {text_diff:.3e}, image files {files_diff:.3e}");
    assert!(image_diff <= TOLERANCE, "image_embeds differ from open_clip's encode_image by {image_diff}");
    assert!(text_diff <= TOLERANCE, "text_embeds differ from open_clip's encode_text by {text_diff}");
    assert!(files_diff <= TOLERANCE, "--images embeddings differ from open_clip's preprocess + encode_image by {files_diff}");
    assert_eq!(only_images, ["image_embeds"], "only the embeddings of the inputs given are written");
}

#[test]
fn bad_configs_weights_and_inputs_are_refused_by_name() {
    let fx = fixtures();
    let dir = fx.path();
    let model = std::fs::read_to_string(dir.join("model.yaml")).unwrap();
    let inputs = ["--pixels", "inputs.safetensors", "--tokens", "inputs.safetensors", "--out", "out.safetensors"];
    let with_model = |yaml: String| {
        std::fs::write(dir.join("bad.yaml"), yaml).unwrap();
        let mut args = vec!["--model", "bad.yaml"];
        args.extend(inputs);
        embed(dir, &args)
    };

    let unknown = with_model(model.replace("vision_cfg:\n", "vision_cfg:\n  patch_sise: 4\n"));
    assert_fails_with(&unknown, &["bad.yaml", "unknown field `patch_sise`"]);
    let timm = with_model(model.replace("vision_cfg:\n", "vision_cfg:\n  timm_model_name: vit_base_patch16_224\n"));
    assert_fails_with(&timm, &["bad.yaml", "vision_cfg.timm_model_name"]);
    let hf = with_model(model.replace("text_cfg:\n", "text_cfg:\n  hf_model_name: roberta-base\n"));
    assert_fails_with(&hf, &["text_cfg.hf_model_name"]);
    let pooler = with_model(model.replace("vision_cfg:\n", "vision_cfg:\n  attentional_pool: true\n"));
    assert_fails_with(&pooler, &["vision_cfg.attentional_pool"]);
    let quick = with_model(format!("quick_gelu: true\n{model}"));
    assert_fails_with(&quick, &["quick_gelu"]);

    let weights: Vec<(String, Tensor)> = Tensor::read_safetensors(dir.join("weights.safetensors")).unwrap();
    let with_weights = |tensors: Vec<(String, Tensor)>| {
        Tensor::write_safetensors(&tensors, dir.join("bad.safetensors")).unwrap();
        let mut args = vec!["--weights", "bad.safetensors"];
        args.extend(inputs);
        embed(dir, &args)
    };
    let missing = with_weights(weights.iter().filter(|(n, _)| n != "visual.proj").map(|(n, t)| (n.clone(), t.shallow_clone())).collect());
    assert_fails_with(&missing, &["bad.safetensors", "weight `visual.proj` is missing"]);
    let no_scale = with_weights(weights.iter().filter(|(n, _)| n != "logit_scale").map(|(n, t)| (n.clone(), t.shallow_clone())).collect());
    assert_fails_with(&no_scale, &["weight `logit_scale` is missing"]);
    let mut extra: Vec<(String, Tensor)> = weights.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
    extra.push(("visual.attn_pool.query".into(), Tensor::zeros([4, 32], (plexus_plugin::tch::Kind::Float, plexus_plugin::tch::Device::Cpu))));
    assert_fails_with(&with_weights(extra), &["unexpected weight `visual.attn_pool.query`"]);
    let reshaped = weights
        .iter()
        .map(|(n, t)| (n.clone(), if n == "text_projection" { t.narrow(1, 0, 6).contiguous() } else { t.shallow_clone() }))
        .collect();
    assert_fails_with(&with_weights(reshaped), &["weight `text_projection` has shape [24, 6]; the model config needs [24, 12]"]);

    let pixels = Tensor::zeros([2, 3, 8, 8], (plexus_plugin::tch::Kind::Float, plexus_plugin::tch::Device::Cpu));
    Tensor::write_safetensors(&[("pixels", &pixels)], dir.join("small.safetensors")).unwrap();
    let small = embed(dir, &["--pixels", "small.safetensors", "--out", "out.safetensors"]);
    assert_fails_with(&small, &["small.safetensors", "`pixels` has shape [2, 3, 8, 8]", "[N, 3, 16, 16]"]);
    let unnamed = embed(dir, &["--pixels", "weights.safetensors", "--out", "out.safetensors"]);
    assert_fails_with(&unnamed, &["weights.safetensors", "no tensor named `pixels`"]);

    std::fs::write(dir.join("texts.txt"), "a photo of a cat\n").unwrap();
    let texts = embed(dir, &["--texts", "texts.txt", "--out", "out.safetensors"]);
    assert_fails_with(&texts, &["--texts needs --bpe", "bpe_simple_vocab_16e6.txt.gz"]);
    assert!(!dir.join("out.safetensors").exists(), "a refused command must not write its output");
}

/// Every key name (at any depth) of a JSON object.
fn key_names(value: &serde_json::Value, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            out.push(k.clone());
            key_names(v, out);
        }
    }
}

#[test]
fn open_clip_model_configs_convert_or_are_refused_by_key() {
    use plexus::cli::embed::config::OpenClipConfig;
    let find = "import importlib.util; print(importlib.util.find_spec('open_clip').submodule_search_locations[0])";
    let out = Command::new(venv_python()).args(["-c", find]).output().unwrap();
    assert!(out.status.success(), "open_clip is not installed (run tools/setup-venv.sh)");
    let configs = Path::new(String::from_utf8(out.stdout).unwrap().trim()).join("model_configs");
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(&configs).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        match OpenClipConfig::parse(&text, &name).and_then(|c| c.towers(&name)) {
            Ok(towers) => {
                assert_eq!(towers.vision["image_size"], json["vision_cfg"]["image_size"], "{name}");
                assert_eq!(towers.vision["output_dim"], json["embed_dim"], "{name}");
                assert_eq!(towers.text["width"], json["text_cfg"]["width"], "{name}");
                accepted.push(name);
            }
            Err(e) => {
                let message = e.to_string();
                let mut keys = Vec::new();
                key_names(&json, &mut keys);
                assert!(keys.iter().any(|k| message.contains(k.as_str())), "{name}: refusal names none of its keys: {message}");
                refused.push((name, message));
            }
        }
    }
    eprintln!("open_clip model_configs: {} convert, {} refused by key", accepted.len(), refused.len());
    for plain in ["ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-H-14", "ViT-L-14-336"] {
        assert!(accepted.iter().any(|a| a == plain), "{plain} should convert; refused: {refused:?}");
    }
    let reason = |name: &str| refused.iter().find(|(n, _)| n == name).map(|(_, m)| m.clone()).unwrap_or_default();
    assert!(reason("RN50").contains("vision_cfg.layers"), "RN50: {}", reason("RN50"));
    assert!(reason("ViT-B-16-quickgelu").contains("quick_gelu"), "{}", reason("ViT-B-16-quickgelu"));
    assert!(reason("coca_ViT-B-32").contains("multimodal_cfg"), "{}", reason("coca_ViT-B-32"));
}
