//! Early fusion: concatenate every accepted modality's features with a presence bit,
//! then project.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Tensor};
use plexus_plugin::{Fusion, ModalityFeatures, Result};

use crate::common::{all_modalities, positive, InputSpec, ModalityDims};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct EarlyConfig {
    /// Modalities this fusion accepts (any subset of them may be given per batch).
    pub modalities: Vec<String>,
    /// Feature width `D_m` of every modality not named in `input_dims`.
    pub input_dim: i64,
    /// Per-modality widths, e.g. `{image: 512, text: 384}`.
    pub input_dims: ModalityDims,
    /// Width `D` of the fused output.
    pub output_dim: i64,
}

impl Default for EarlyConfig {
    fn default() -> Self {
        Self { modalities: all_modalities(), input_dim: 16, input_dims: ModalityDims::default(), output_dim: 16 }
    }
}

/// `Linear([x_1 * p_1, p_1, ..., x_M * p_M, p_M])` over the accepted modalities in a fixed
/// order: an absent modality contributes zeros and presence bit 0, so the projection
/// can tell "absent" from "all-zero features".
#[derive(Debug)]
pub struct EarlyFusion {
    spec: InputSpec,
    proj: nn::Linear,
    output_dim: i64,
}

impl EarlyFusion {
    pub fn new(p: &nn::Path, cfg: &EarlyConfig) -> Result<Self> {
        let spec = InputSpec::new("early", &cfg.modalities, cfg.input_dim, &cfg.input_dims)?;
        let output_dim = positive("early", "output_dim", cfg.output_dim)?;
        let concat: i64 = spec.slots.iter().map(|(_, d)| d + 1).sum();
        Ok(Self { proj: nn::linear(p / "proj", concat, output_dim, Default::default()), spec, output_dim })
    }
}

impl Fusion for EarlyFusion {
    fn output_dim(&self) -> i64 {
        self.output_dim
    }

    /// features `{m: [B, D_m]}` with presence `[B]` → `[B, output_dim]`.
    fn fuse(&self, features: &ModalityFeatures, _train: bool) -> Result<Tensor> {
        let g = self.spec.gather(features)?;
        let mut parts = Vec::with_capacity(2 * g.slots.len());
        for slot in &g.slots {
            let data = match &slot.data {
                Some(d) => d.shallow_clone(),
                None => Tensor::zeros([g.batch, slot.dim], (plexus_plugin::tch::Kind::Float, g.device)),
            }; // [B, D_m]
            parts.push(data);
            parts.push(slot.present.unsqueeze(1)); // [B, 1]
        }
        Ok(self.proj.forward(&Tensor::cat(&parts, 1))) // [B, Σ(D_m + 1)] → [B, D]
    }
}
