//! Inputs the kit can make without help: an encoder's input from its config's field
//! names, and the named tensors the host's trainer and evaluation pass to losses and
//! metrics. [`check_component`] uses them to check a registered component with its
//! default config, as `plexus plugins --check` does.
use serde_json::Value;
use tch::{nn, Device, Kind as DType, Tensor};

use super::{call, checks, Called, Report};
use crate::{ComponentInfo, Error, Factory, Hparams, Modality, ModalityBatch, ModalityFeatures, TensorMap};

/// Batch size of derived inputs (more than one, so batch independence is checked).
const BATCH: i64 = 3;
/// Feature width of derived loss, metric and fusion inputs when nothing says otherwise.
const WIDTH: i64 = 8;

fn field(config: &Value, names: &[&str]) -> Option<i64> {
    names.iter().find_map(|n| config.get(*n).and_then(Value::as_i64))
}

fn require(config: &Value, name: &str) -> Result<i64, String> {
    field(config, &[name]).ok_or_else(|| format!("its config has no integer `{name}`, so no input shape can be derived"))
}

/// A valid random input batch for an encoder of `modality`, shaped from the conventional
/// config fields (a missing required field is the `Err` reason):
/// - image `[B, in_channels (3), image_size, image_size]` f32 — needs `image_size`;
/// - text `[B, context_length (16)]` i64 ids in `[1, vocab_size)` — needs `vocab_size`;
/// - audio `[B, n_mels, frames (32)]` f32 — needs `n_mels`;
/// - video `[B, frames (4), in_channels (3), image_size, image_size]` f32 — needs `image_size`.
pub fn example_input(modality: Modality, config: &Value, batch: i64) -> Result<Tensor, String> {
    let float = (DType::Float, Device::Cpu);
    let channels = field(config, &["in_channels", "channels"]).unwrap_or(3);
    Ok(match modality {
        Modality::Image => {
            let s = require(config, "image_size")?;
            Tensor::randn([batch, channels, s, s], float)
        }
        Modality::Text => {
            let vocab = require(config, "vocab_size")?;
            let len = field(config, &["context_length", "max_length"]).unwrap_or(16);
            Tensor::randint_low(1, vocab.max(2), [batch, len], (DType::Int64, Device::Cpu))
        }
        Modality::Audio => Tensor::randn([batch, require(config, "n_mels")?, field(config, &["frames", "max_frames"]).unwrap_or(32)], float),
        Modality::Video => {
            let s = require(config, "image_size")?;
            Tensor::randn([batch, field(config, &["frames", "num_frames"]).unwrap_or(4), channels, s, s], float)
        }
    })
}

/// What the host's trainer gives a loss: `image_embeds` and `text_embeds` `[B, D]` f32
/// (row i of each is a positive pair) and `labels` `[B]` i64.
pub fn training_inputs(batch: i64, dim: i64) -> TensorMap {
    let float = (DType::Float, Device::Cpu);
    TensorMap::new()
        .with("image_embeds", &Tensor::randn([batch, dim], float))
        .with("text_embeds", &Tensor::randn([batch, dim], float))
        .with("labels", &Tensor::arange(batch, (DType::Int64, Device::Cpu)))
}

/// Conventional named inputs of the other kinds of loss, widths taken from the loss's
/// config fields where it has them, in the order [`check_component`] tries them:
/// - `trainer`: [`training_inputs`] of width `embed_dim` (8);
/// - `captioning`: `logits` `[B, 5, vocab_size (11)]`, `targets` `[B, 5]` i64 in `[1, V)`;
/// - `ctc`: `logits` `[B, 8, 5]`, `targets` `[B, 3]` i64 (never `blank` (0)),
///   `input_lengths` `[B]` = 8, `target_lengths` `[B]` = 3;
/// - `denoising`: `noise_pred`, `noise` `[B, 2, 4, 4]`, `timesteps` `[B]` i64 below the
///   length of `timestep_weights` (10);
/// - `latents`: `latents` `[B, 4, code_dim (8)]`.
/// - `fusion`: `fused_embeds` `[B, input_dim (8)]`, `labels` `[B]` i64 in `[0, num_classes (10))`.
pub fn loss_input_sets(batch: i64, config: &Value) -> Vec<(&'static str, TensorMap)> {
    let float = (DType::Float, Device::Cpu);
    let int = (DType::Int64, Device::Cpu);
    let vocab = field(config, &["vocab_size"]).unwrap_or(11).max(2);
    let blank = field(config, &["blank"]).unwrap_or(0).max(0);
    let classes = (blank + 2).max(5);
    let steps = match config.get("timestep_weights").and_then(Value::as_array).map_or(0, Vec::len) {
        0 => 10,
        n => n as i64,
    };
    vec![
        ("trainer", training_inputs(batch, field(config, &["embed_dim"]).unwrap_or(WIDTH))),
        (
            "captioning",
            TensorMap::new()
                .with("logits", &Tensor::randn([batch, 5, vocab], float))
                .with("targets", &Tensor::randint_low(1, vocab, [batch, 5], int)),
        ),
        (
            "ctc",
            TensorMap::new()
                .with("logits", &Tensor::randn([batch, 8, classes], float))
                // Shifted past the blank, so no target is the blank.
                .with("targets", &((Tensor::randint(classes - 1, [batch, 3], int) + blank + 1).remainder(classes)))
                .with("input_lengths", &Tensor::full([batch], 8, int))
                .with("target_lengths", &Tensor::full([batch], 3, int)),
        ),
        (
            "denoising",
            TensorMap::new()
                .with("noise_pred", &Tensor::randn([batch, 2, 4, 4], float))
                .with("noise", &Tensor::randn([batch, 2, 4, 4], float))
                .with("timesteps", &Tensor::randint(steps, [batch], int)),
        ),
        ("latents", TensorMap::new().with("latents", &Tensor::randn([batch, 4, field(config, &["code_dim"]).unwrap_or(WIDTH)], float))),
        (
            "fusion",
            TensorMap::new()
                .with("fused_embeds", &Tensor::randn([batch, field(config, &["input_dim"]).unwrap_or(WIDTH)], float))
                .with("labels", &Tensor::randint(field(config, &["num_classes"]).unwrap_or(10).max(1), [batch], int)),
        ),
    ]
}

/// What the host's evaluation gives a metric, for `n` images, `classes` classes and
/// `templates` prompts per class: `image_embeds` `[N, D]`, `text_embeds` `[C*T, D]`,
/// `class_embeds` `[C, T, D]` (the same rows), `labels` `[N]` i64, `image_groups` `[N]`
/// (= labels) and `text_groups` `[C*T]` (each prompt's class).
pub fn evaluation_inputs(n: i64, classes: i64, templates: i64, dim: i64) -> TensorMap {
    let float = (DType::Float, Device::Cpu);
    let int = (DType::Int64, Device::Cpu);
    let text = Tensor::randn([classes * templates, dim], float);
    let labels = Tensor::arange(n, int).remainder(classes);
    TensorMap::new()
        .with("image_embeds", &Tensor::randn([n, dim], float))
        .with("class_embeds", &text.view([classes, templates, dim]))
        .with("text_embeds", &text)
        .with("image_groups", &labels)
        .with("labels", &labels)
        .with("text_groups", &Tensor::arange(classes * templates, int).divide_scalar_mode(templates, "floor"))
}

/// Builds a registered component with its default config on a fresh CPU `VarStore` and
/// runs its kind's checks on derived inputs:
/// - encoder: [`example_input`] from the default config (skipped if none can be made);
/// - fusion: all four modalities as `[B, input_dim]` (skipped without `input_dim`);
/// - loss: the first of [`loss_input_sets`] it accepts (skipped when it accepts none);
/// - metric: [`evaluation_inputs`] with 12 images, 6 classes, 2 prompts (skipped when it
///   needs an input the host does not pass);
/// - sampler, masking: no inputs needed; tokenizer: fitted on a few captions;
/// - module: its own [`crate::Module::example_inputs`] (skipped when it declares none).
pub fn check_component(info: &ComponentInfo, factory: &Factory) -> Report {
    let mut r = Report::new(info.kind, &info.name);
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let hp = Hparams::new(Value::Null, format!("{} `{}` default config", info.kind, info.name));
    macro_rules! build {
        ($f:expr) => {
            match r.step("new with the default config", || call(|| $f(&root, &hp)).ok()) {
                Some(c) => c,
                None => return r,
            }
        };
    }
    let merged = |mut inner: Report| {
        inner.passed.insert(0, "new with the default config".into());
        inner
    };
    match factory {
        Factory::Encoder(f) => {
            let enc = build!(f);
            match example_input(enc.modality(), &info.defaults, BATCH) {
                Ok(input) => merged(checks::encoder(&info.name, enc.as_ref(), &input)),
                Err(why) => r.skip(why),
            }
        }
        Factory::Fusion(f) => {
            let fusion = build!(f);
            let Some(d) = field(&info.defaults, &["input_dim"]) else {
                return r.skip("its config has no integer `input_dim`, so no feature widths can be derived");
            };
            let mut features = ModalityFeatures::new();
            for m in Modality::ALL {
                let present = Tensor::ones([BATCH], (DType::Bool, Device::Cpu));
                features.insert(m, ModalityBatch { data: Tensor::randn([BATCH, d], (DType::Float, Device::Cpu)), present });
            }
            merged(checks::fusion(&info.name, fusion.as_ref(), &features))
        }
        Factory::Loss(f) => {
            let loss = build!(f);
            // The first conventional input set the loss accepts; the trainer's comes first.
            let mut refusals = Vec::new();
            for (kind, inputs) in loss_input_sets(BATCH, &info.defaults) {
                match needs_other_inputs(call(|| loss.compute(&inputs, false).map(drop)), kind) {
                    None => return merged(checks::loss(&info.name, loss.as_ref(), &inputs)),
                    Some(why) => refusals.push(why),
                }
            }
            r.skip(refusals.join("; "))
        }
        Factory::Metric(f) => {
            let metric = build!(f);
            let inputs = evaluation_inputs(12, 6, 2, WIDTH);
            if let Some(why) = needs_other_inputs(call(|| metric.compute(&inputs).map(drop)), "evaluation") {
                return r.skip(why);
            }
            merged(checks::metric(&info.name, metric.as_ref(), &inputs))
        }
        Factory::Sampler(f) => {
            let sampler = build!(f);
            merged(checks::sampler(&info.name, sampler.as_ref()))
        }
        Factory::Masking(f) => {
            let masking = build!(f);
            merged(super::masking::masking(&info.name, masking.as_ref()))
        }
        Factory::Module(f) => {
            let module = build!(f);
            match module.example_inputs() {
                Some(inputs) => merged(super::module::module(&info.name, module.as_ref(), &inputs)),
                None => r.skip("it declares no example inputs (Module::example_inputs)"),
            }
        }
        Factory::Tokenizer(f) => {
            let mut tok = build!(f);
            let corpus: Vec<String> =
                ["a photo of a shirt.", "a picture of a bag.", "an ankle boot", ""].iter().map(|s| s.to_string()).collect();
            merged(checks::tokenizer(&info.name, tok.as_mut(), &corpus))
        }
    }
}

/// A skip reason when the component refused the derived inputs with an error: they are
/// the host's usual ones, but a component may legitimately need others (a caption metric
/// needs token ids). A panic is not a reason to skip: the checks then report it.
fn needs_other_inputs(outcome: Called<()>, inputs: &str) -> Option<String> {
    match outcome {
        Called::Err(Error::MissingInput { name, available }) => {
            Some(format!("needs input `{name}`, which the {inputs} inputs lack (they are {available})"))
        }
        Called::Err(e) => Some(format!("refused the {inputs} inputs: {e}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_shapes_follow_the_config_fields() {
        let cfg = serde_json::json!({"image_size": 8, "in_channels": 1});
        assert_eq!(example_input(Modality::Image, &cfg, 2).unwrap().size(), [2, 1, 8, 8]);
        let text = example_input(Modality::Text, &serde_json::json!({"vocab_size": 5, "context_length": 7}), 2).unwrap();
        assert_eq!((text.size(), text.kind()), (vec![2, 7], DType::Int64));
        assert!(example_input(Modality::Audio, &cfg, 2).unwrap_err().contains("n_mels"));
        let eval = evaluation_inputs(4, 3, 2, 5);
        assert_eq!(eval.get("text_groups").unwrap().size(), [6]);
        assert_eq!(Vec::<i64>::try_from(eval.get("text_groups").unwrap()).unwrap(), [0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn loss_input_widths_follow_the_config_fields() {
        let cfg = serde_json::json!({"embed_dim": 5, "code_dim": 3, "blank": 2, "timestep_weights": [1.0, 0.5]});
        let sets: std::collections::BTreeMap<_, _> = loss_input_sets(4, &cfg).into_iter().collect();
        assert_eq!(sets["trainer"].get("image_embeds").unwrap().size(), [4, 5]);
        assert_eq!(sets["latents"].get("latents").unwrap().size(), [4, 4, 3]);
        let targets = Vec::<i64>::try_from(sets["ctc"].get("targets").unwrap().flatten(0, -1)).unwrap();
        assert!(targets.iter().all(|&t| t != 2 && (0..5).contains(&t)), "{targets:?}");
        let steps = Vec::<i64>::try_from(sets["denoising"].get("timesteps").unwrap()).unwrap();
        assert!(steps.iter().all(|&t| (0..2).contains(&t)), "{steps:?}");
    }
}
