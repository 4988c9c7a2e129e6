//! Gated fusion: a learned, per-example softmax gate over the modalities present.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Kind, Tensor};
use plexus_plugin::{Fusion, ModalityFeatures, Result};

use crate::common::{all_modalities, masked_softmax, positive, InputSpec, ModalityDims};
use crate::project::Projections;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct GatedConfig {
    /// Modalities this fusion accepts (any subset of them may be given per batch).
    pub modalities: Vec<String>,
    /// Feature width `D_m` of every modality not named in `input_dims`.
    pub input_dim: i64,
    /// Per-modality widths, e.g. `{image: 512, text: 384}`.
    pub input_dims: ModalityDims,
    /// Width `D` of the projected modalities and of the result.
    pub output_dim: i64,
    /// Hidden width of the gate's scoring MLP.
    pub gate_hidden: i64,
}

impl Default for GatedConfig {
    fn default() -> Self {
        Self { modalities: all_modalities(), input_dim: 16, input_dims: ModalityDims::default(), output_dim: 16, gate_hidden: 16 }
    }
}

/// `h_m = Linear_m(x_m)`, `s_m = v·tanh(W h_m)`, `α = softmax(s)` over the present
/// modalities of each example, output `Σ α_m h_m` (zeros when none is present).
#[derive(Debug)]
pub struct GatedFusion {
    spec: InputSpec,
    proj: Projections,
    gate_hidden: nn::Linear,
    gate_score: nn::Linear,
    output_dim: i64,
}

impl GatedFusion {
    pub fn new(p: &nn::Path, cfg: &GatedConfig) -> Result<Self> {
        let spec = InputSpec::new("gated", &cfg.modalities, cfg.input_dim, &cfg.input_dims)?;
        let output_dim = positive("gated", "output_dim", cfg.output_dim)?;
        let hidden = positive("gated", "gate_hidden", cfg.gate_hidden)?;
        Ok(Self {
            proj: Projections::new(p, &spec, output_dim),
            gate_hidden: nn::linear(p / "gate" / "hidden", output_dim, hidden, Default::default()),
            gate_score: nn::linear(p / "gate" / "score", hidden, 1, Default::default()),
            spec,
            output_dim,
        })
    }
}

impl Fusion for GatedFusion {
    fn output_dim(&self) -> i64 {
        self.output_dim
    }

    /// features `{m: [B, D_m]}` with presence `[B]` → `[B, output_dim]`.
    fn fuse(&self, features: &ModalityFeatures, _train: bool) -> Result<Tensor> {
        let g = self.spec.gather(features)?;
        let h = self.proj.tokens(&g); // [B, M, D]
        let scores = self.gate_score.forward(&self.gate_hidden.forward(&h).tanh()).squeeze_dim(-1); // [B, M]
        let gate = masked_softmax(&scores, &g.presence()); // [B, M]
        Ok((h * gate.unsqueeze(2)).sum_dim_intlist([1i64].as_slice(), false, Kind::Float)) // [B, D]
    }
}
