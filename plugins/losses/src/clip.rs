//! CLIP's contrastive loss (Radford et al. 2021, and open_clip's `ClipLoss`).
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};

use crate::common::{diagonal_ce, l2_normalize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct ClipLossConfig {
    /// Initial temperature; the parameter stores `ln(1 / init_temperature)`.
    pub init_temperature: f64,
    /// Upper bound of the logit scale (CLIP clamps at 100).
    pub max_logit_scale: f64,
    /// Whether the logit scale is trained.
    pub learnable: bool,
}

impl Default for ClipLossConfig {
    fn default() -> Self {
        Self { init_temperature: 0.07, max_logit_scale: 100.0, learnable: true }
    }
}

#[derive(Debug)]
pub struct ClipLoss {
    logit_scale: Tensor,
    max_log_scale: f64,
}

impl ClipLoss {
    pub fn new(p: &nn::Path, cfg: &ClipLossConfig) -> Result<Self> {
        if !(cfg.init_temperature > 0.0) || !(cfg.max_logit_scale >= 1.0) {
            return Err(Error::other("clip loss: init_temperature must be > 0 and max_logit_scale >= 1"));
        }
        let init = (1.0 / cfg.init_temperature).ln();
        let mut logit_scale = p.var("logit_scale", &[], nn::Init::Const(init));
        if !cfg.learnable {
            logit_scale = logit_scale.set_requires_grad(false);
        }
        Ok(Self { logit_scale, max_log_scale: cfg.max_logit_scale.ln() })
    }
}

impl ClipLoss {
    /// The exp'd logit scale `[]`. Clamping inside the graph zeroes the gradient at the
    /// bound, like CLIP's in-place clamp.
    pub(crate) fn scale(&self) -> Tensor {
        self.logit_scale.clamp(0.0, self.max_log_scale).exp()
    }
}

impl Loss for ClipLoss {
    /// Inputs: `image_embeds` `[B, D]`, `text_embeds` `[B, D]` (unnormalised; row i of each
    /// is a positive pair). Output: scalar loss; logs `logit_scale` (the exp'd scale).
    fn compute(&self, inputs: &TensorMap, _train: bool) -> Result<LossOutput> {
        let image = inputs.get("image_embeds")?;
        let text = inputs.get("text_embeds")?;
        if image.size() != text.size() || image.dim() != 2 {
            return Err(Error::shape(format!(
                "clip loss needs image_embeds and text_embeds of equal shape [B, D], got {:?} and {:?}",
                image.size(),
                text.size()
            )));
        }
        let scale = self.scale(); // []
        let logits = l2_normalize(image).matmul(&l2_normalize(text).tr()) * &scale; // [B, B] image→text
        let loss = (diagonal_ce(&logits) + diagonal_ce(&logits.tr())) / 2.0;
        Ok(LossOutput { loss, logs: vec![("logit_scale".into(), scale.detach())] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::{Device, Kind};

    fn loss_of(image: &Tensor, text: &Tensor, temperature: f64) -> f64 {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ClipLossConfig { init_temperature: temperature, max_logit_scale: 1e9, learnable: false };
        let l = ClipLoss::new(&vs.root(), &cfg).unwrap();
        let out = l.compute(&TensorMap::new().with("image_embeds", image).with("text_embeds", text), true).unwrap();
        out.loss.double_value(&[])
    }

    #[test]
    fn aligned_pairs_go_to_zero_as_temperature_falls() {
        let x = Tensor::eye(4, (Kind::Float, Device::Cpu));
        assert!(loss_of(&x, &x, 1.0) > 0.5);
        assert!(loss_of(&x, &x, 0.01) < 1e-6);
    }

    #[test]
    fn matches_hand_computed_value() {
        // Orthogonal unit pairs at temperature 1: each row is [e, 1, 1] / (e + 2).
        let x = Tensor::eye(3, (Kind::Float, Device::Cpu));
        let expected = -(std::f64::consts::E / (std::f64::consts::E + 2.0)).ln();
        assert!((loss_of(&x, &x, 1.0) - expected).abs() < 1e-6);
    }
}
