//! Parity with open_clip 3.x (installed by tools/setup-venv.sh): tests/python/
//! open_clip_parity.py builds open_clip's `VisionTransformer` and `TextTransformer` with
//! random weights and computes `ClipLoss`, `SigLipLoss` and `CoCaLoss`'s caption term; here
//! the state dicts load as they are into the `vit` and `text_transformer` plugins, `clip`
//! and `siglip` get the same embeddings, scale and bias, `lm_cross_entropy` the same logits
//! and padded labels.
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use plexus::plugins::Registry;
use plexus_plugin::tch::{nn, Device, Tensor};
use plexus_plugin::{Hparams, TensorMap};
use plexus_tests::{root, target_dir, venv_python};

/// Forward outputs must agree to float32 rounding.
const TOLERANCE: f64 = 1e-5;

struct Fixtures {
    dir: tempfile::TempDir,
    io: Vec<(String, Tensor)>,
    configs: serde_json::Value,
}

impl Fixtures {
    fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = root().join("tests/python/open_clip_parity.py");
        let out = Command::new(venv_python()).arg(&script).arg(dir.path()).env("OMP_NUM_THREADS", "1").output().unwrap();
        assert!(out.status.success(), "{} failed (run tools/setup-venv.sh): {}", script.display(), String::from_utf8_lossy(&out.stderr));
        let io = Tensor::read_safetensors(dir.path().join("io.safetensors")).unwrap();
        let configs = serde_json::from_slice(&std::fs::read(dir.path().join("configs.json")).unwrap()).unwrap();
        Self { dir, io, configs }
    }

    fn tensor(&self, name: &str) -> &Tensor {
        &self.io.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing from io.safetensors")).1
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

/// Loads `file` into `vs` and checks that its keys are exactly the store's variables.
fn load_as_is(vs: &mut nn::VarStore, file: &Path) {
    let in_file: BTreeSet<String> = Tensor::read_safetensors(file).unwrap().into_iter().map(|(n, _)| n).collect();
    let ours: BTreeSet<String> = vs.variables().into_keys().collect();
    assert_eq!(in_file, ours, "open_clip state dict keys vs our parameter names");
    vs.load(file).unwrap();
}

fn encoder_output(fx: &Fixtures, name: &str, config: &str, weights: &str, input: &str) -> Tensor {
    let registry = Registry::discover(&[target_dir()]);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let hp = Hparams::new(fx.configs[config].clone(), format!("open_clip parity {config}"));
    let encoder = registry.encoder(name, &vs.root(), &hp).unwrap();
    load_as_is(&mut vs, &fx.dir.path().join(weights));
    plexus_plugin::tch::no_grad(|| encoder.encode(fx.tensor(input), false)).unwrap()
}

/// The loss `name` (default config) on `inputs`, with each of its parameters set from a
/// fixture tensor: `(parameter, fixture)` pairs.
fn loss_value(fx: &Fixtures, name: &str, parameters: &[(&str, &str)], inputs: &TensorMap) -> Tensor {
    let registry = Registry::discover(&[target_dir()]);
    let vs = nn::VarStore::new(Device::Cpu);
    let loss = registry.loss(name, &vs.root(), &Hparams::new(serde_json::json!({}), format!("open_clip parity {name}"))).unwrap();
    for (parameter, fixture) in parameters {
        let mut p = vs.variables()[*parameter].shallow_clone();
        plexus_plugin::tch::no_grad(|| p.copy_(fx.tensor(fixture)));
    }
    loss.compute(inputs, false).unwrap().loss
}

#[test]
fn encoders_and_losses_match_open_clip() {
    let fx = Fixtures::generate();
    assert!(fx.configs["open_clip"].as_str().unwrap().starts_with("3."), "{}", fx.configs);

    let vision = encoder_output(&fx, "vit", "vision", "vision.safetensors", "images");
    let vision_diff = max_abs_diff(&vision, fx.tensor("vision_out"));
    let text = encoder_output(&fx, "text_transformer", "text", "text.safetensors", "tokens");
    let text_diff = max_abs_diff(&text, fx.tensor("text_out"));

    // Ours normalise inside; open_clip's losses were given the normalised embeddings.
    let embeds = TensorMap::new().with("image_embeds", fx.tensor("image_embeds")).with("text_embeds", fx.tensor("text_embeds"));
    let clip_diff = max_abs_diff(&loss_value(&fx, "clip", &[("logit_scale", "logit_scale")], &embeds), fx.tensor("clip_loss"));
    let siglip_params = [("logit_scale", "siglip_logit_scale"), ("logit_bias", "siglip_logit_bias")];
    let siglip_diff = max_abs_diff(&loss_value(&fx, "siglip", &siglip_params, &embeds), fx.tensor("siglip_loss"));
    let captions = TensorMap::new().with("logits", fx.tensor("caption_logits")).with("targets", fx.tensor("caption_labels"));
    let caption_diff = max_abs_diff(&loss_value(&fx, "lm_cross_entropy", &[], &captions), fx.tensor("caption_loss"));

    eprintln!(
        "open_clip parity max abs diff: vit {vision_diff:.3e}, text_transformer {text_diff:.3e}, clip loss {clip_diff:.3e}, siglip loss {siglip_diff:.3e}, \
         caption loss {caption_diff:.3e}"
    );
    assert!(vision_diff <= TOLERANCE, "vit differs from open_clip by {vision_diff}");
    assert!(text_diff <= TOLERANCE, "text_transformer differs from open_clip by {text_diff}");
    assert!(clip_diff <= TOLERANCE, "clip loss differs from open_clip's ClipLoss by {clip_diff}");
    assert!(siglip_diff <= TOLERANCE, "siglip loss differs from open_clip's SigLipLoss by {siglip_diff}");
    assert!(caption_diff <= TOLERANCE, "lm_cross_entropy differs from open_clip's CoCaLoss caption term by {caption_diff}");
}
