//! The kit must pass well-behaved components and name the check a faulty one fails.
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind as DType, Tensor};

use super::*;
use crate::{Encoder, Metric, Modality, Registrar, Sampler, SamplerContext, Scores, TensorMap};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ToyConfig {
    image_size: i64,
    in_channels: i64,
    check_shapes: bool,
}
impl Default for ToyConfig {
    fn default() -> Self {
        Self { image_size: 4, in_channels: 1, check_shapes: true }
    }
}

/// images `[B, C, S, S]` → `[B, 2]`; with `check_shapes: false` it trusts its input, as
/// a careless plugin would.
struct Toy {
    proj: nn::Linear,
    cfg: ToyConfig,
}
impl Encoder for Toy {
    fn modality(&self) -> Modality {
        Modality::Image
    }
    fn output_dim(&self) -> i64 {
        2
    }
    fn encode(&self, x: &Tensor, _train: bool) -> crate::Result<Tensor> {
        let s = self.cfg.image_size;
        if self.cfg.check_shapes && (x.dim() != 4 || x.size()[1..] != [self.cfg.in_channels, s, s]) {
            return Err(crate::Error::shape(format!("expected [B, 1, {s}, {s}], got {:?}", x.size())));
        }
        Ok(x.flatten(1, -1).apply(&self.proj))
    }
}

fn toy(check_shapes: bool) -> (nn::VarStore, Toy) {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = ToyConfig { check_shapes, ..Default::default() };
    let proj = nn::linear(vs.root() / "proj", 16, 2, Default::default());
    (vs, Toy { proj, cfg })
}

fn failed(report: &Report) -> Vec<&str> {
    report.failures.iter().map(|f| f.check.as_str()).collect()
}

#[test]
fn a_careful_encoder_passes_and_a_careless_one_is_named() {
    let input = Tensor::randn([3, 1, 4, 4], (DType::Float, Device::Cpu));
    let (_vs, good) = toy(true);
    encoder("toy", &good, &input).assert_ok();
    let (_vs, careless) = toy(false);
    let report = encoder("careless", &careless, &input);
    assert_eq!(failed(&report), ["wrong-rank input is an error"], "{report}");
    assert!(report.to_string().contains("panicked on input of shape [3, 1, 4]"), "{report}");
}

struct Bad;
impl Sampler for Bad {
    fn epoch_order(&self, ctx: &SamplerContext) -> crate::Result<Vec<usize>> {
        Ok((0..=ctx.len).collect())
    }
}
impl Metric for Bad {
    fn compute(&self, inputs: &TensorMap) -> crate::Result<Scores> {
        inputs.get("image_embeds")?;
        Ok(vec![("nan".into(), f64::NAN)])
    }
}

#[test]
fn out_of_range_indices_and_nan_scores_fail() {
    let s = sampler("bad", &Bad);
    assert!(s.failures[0].message.contains("index 0 for a dataset of 0"), "{s}");
    let m = metric("bad", &Bad, &evaluation_inputs(4, 2, 1, 3));
    assert!(failed(&m).contains(&"scores: named, unique, finite"), "{m}");
    // Its rank is never checked either: wrong-rank inputs are accepted.
    assert!(m.to_string().contains("accepted inputs"), "{m}");
}

fn register(r: &mut Registrar) -> crate::Result<()> {
    r.encoder("toy", "toy encoder", |p, cfg: &ToyConfig| Ok(Toy { proj: nn::linear(p / "proj", cfg.image_size * cfg.image_size * cfg.in_channels, 2, Default::default()), cfg: cfg.clone() }));
    r.encoder("panics", "panics when built", |_, _: &ToyConfig| -> crate::Result<Toy> { panic!("boom") });
    Ok(())
}

#[test]
fn registered_components_are_checked_with_default_configs() {
    let report = check_register("toy-plugin", register);
    assert_eq!(report.components.len(), 2);
    report.components[0].assert_ok();
    assert!(report.components[0].passed.len() >= 5, "{report}");
    let panicked = &report.components[1];
    assert_eq!(failed(panicked), ["new with the default config"], "{report}");
    assert!(panicked.failures[0].message.contains("boom"), "{report}");
    assert!(!report.is_ok());
}
