//! Late fusion: a weighted sum of per-modality outputs, the weights renormalised over the
//! modalities each example has.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Kind, Tensor};
use plexus_plugin::{Fusion, ModalityFeatures, Result};

use crate::common::{all_modalities, masked_softmax, positive, InputSpec, ModalityDims};
use crate::project::Projections;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct LateConfig {
    /// Modalities this fusion accepts (any subset of them may be given per batch).
    pub modalities: Vec<String>,
    /// Feature width `D_m` of every modality not named in `input_dims`.
    pub input_dim: i64,
    /// Per-modality widths, e.g. `{image: 512, text: 384}`.
    pub input_dims: ModalityDims,
    /// Width `D` of the per-modality outputs (logits or embeddings) and of the result.
    pub output_dim: i64,
    /// Whether the modality weights are trained (they start equal either way).
    pub learn_weights: bool,
}

impl Default for LateConfig {
    fn default() -> Self {
        Self { modalities: all_modalities(), input_dim: 16, input_dims: ModalityDims::default(), output_dim: 16, learn_weights: true }
    }
}

/// `Σ_m w_m(x) · Linear_m(x_m)` with `w(x) = softmax(weight_logits)` restricted to the
/// modalities present in example x. An example with no modality present gets zeros.
#[derive(Debug)]
pub struct LateFusion {
    spec: InputSpec,
    heads: Projections,
    weight_logits: Tensor,
    output_dim: i64,
}

impl LateFusion {
    pub fn new(p: &nn::Path, cfg: &LateConfig) -> Result<Self> {
        let spec = InputSpec::new("late", &cfg.modalities, cfg.input_dim, &cfg.input_dims)?;
        let output_dim = positive("late", "output_dim", cfg.output_dim)?;
        let mut weight_logits = p.zeros("weight_logits", &[spec.slots.len() as i64]);
        if !cfg.learn_weights {
            weight_logits = weight_logits.set_requires_grad(false);
        }
        Ok(Self { heads: Projections::new(p, &spec, output_dim), spec, weight_logits, output_dim })
    }
}

impl Fusion for LateFusion {
    fn output_dim(&self) -> i64 {
        self.output_dim
    }

    /// features `{m: [B, D_m]}` with presence `[B]` → `[B, output_dim]`.
    fn fuse(&self, features: &ModalityFeatures, _train: bool) -> Result<Tensor> {
        let g = self.spec.gather(features)?;
        let outputs = self.heads.tokens(&g); // [B, M, D]
        let presence = g.presence(); // [B, M]
        let scores = self.weight_logits.to_device(g.device).unsqueeze(0).expand_as(&presence); // [B, M]
        let weights = masked_softmax(&scores, &presence); // [B, M]
        Ok((outputs * weights.unsqueeze(2)).sum_dim_intlist([1i64].as_slice(), false, Kind::Float)) // [B, D]
    }
}
