//! SigLIP's pairwise sigmoid loss (Zhai et al. 2023): every image/text pair of the batch
//! is an independent binary decision, positive on the diagonal.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Kind, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};

use crate::common::{input, l2_normalize, same_shape};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct SiglipLossConfig {
    /// Initial logit scale `t`; the parameter stores `t' = ln t` (the paper: t' = ln 10).
    pub init_logit_scale: f64,
    /// Initial logit bias `b` (the paper: -10, so that the many negatives start near 0).
    pub init_logit_bias: f64,
    /// Whether scale and bias are trained.
    pub learnable: bool,
}

impl Default for SiglipLossConfig {
    fn default() -> Self {
        Self { init_logit_scale: 10.0, init_logit_bias: -10.0, learnable: true }
    }
}

#[derive(Debug)]
pub struct SiglipLoss {
    log_scale: Tensor,
    bias: Tensor,
}

impl SiglipLoss {
    pub fn new(p: &nn::Path, cfg: &SiglipLossConfig) -> Result<Self> {
        if !(cfg.init_logit_scale > 0.0) || !cfg.init_logit_bias.is_finite() {
            return Err(Error::other("siglip loss: init_logit_scale must be > 0 and init_logit_bias finite"));
        }
        let mut log_scale = p.var("logit_scale", &[], nn::Init::Const(cfg.init_logit_scale.ln()));
        let mut bias = p.var("logit_bias", &[], nn::Init::Const(cfg.init_logit_bias));
        if !cfg.learnable {
            log_scale = log_scale.set_requires_grad(false);
            bias = bias.set_requires_grad(false);
        }
        Ok(Self { log_scale, bias })
    }
}

impl Loss for SiglipLoss {
    /// Inputs: `image_embeds` `[B, D]`, `text_embeds` `[B, D]` (unnormalised; row i of each
    /// is a positive pair). Output: `-Σ_ij log σ(z_ij (t·x_i·y_j + b)) / B` with `z_ij` = 1
    /// on the diagonal and -1 elsewhere; logs `logit_scale` (t) and `logit_bias` (b).
    fn compute(&self, inputs: &TensorMap, _train: bool) -> Result<LossOutput> {
        let layout = "[B, D] (row i of each is a positive pair)";
        let image = input(inputs, "image_embeds", 2, "siglip", layout)?;
        let text = input(inputs, "text_embeds", 2, "siglip", layout)?;
        same_shape("siglip", &[("image_embeds", image), ("text_embeds", text)])?;
        let b = image.size()[0];
        let scale = self.log_scale.exp(); // []
        let logits = l2_normalize(image).matmul(&l2_normalize(text).tr()) * &scale + &self.bias; // [B, B]
        let signs = Tensor::eye(b, (Kind::Float, logits.device())) * 2.0 - 1.0; // [B, B]: +1 diagonal, -1 off it
        let loss = -(logits * signs).log_sigmoid().sum(Kind::Float) / b as f64;
        Ok(LossOutput {
            loss,
            logs: vec![("logit_scale".into(), scale.detach()), ("logit_bias".into(), self.bias.detach().copy())],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::Device;

    #[test]
    fn matches_hand_computed_value() {
        // Orthogonal unit pairs, t = 1, b = 0: diagonal logits 1, off-diagonal 0, so the
        // loss is (B·softplus(-1) + B(B-1)·ln 2) / B.
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = SiglipLossConfig { init_logit_scale: 1.0, init_logit_bias: 0.0, learnable: false };
        let loss = SiglipLoss::new(&vs.root(), &cfg).unwrap();
        let x = Tensor::eye(3, (Kind::Float, Device::Cpu));
        let got = loss.compute(&TensorMap::new().with("image_embeds", &x).with("text_embeds", &x), true).unwrap().loss;
        let softplus = |v: f64| (1.0 + v.exp()).ln();
        let expected = softplus(-1.0) + 2.0 * std::f64::consts::LN_2;
        assert!((got.double_value(&[]) - expected).abs() < 1e-6, "{} vs {expected}", got.double_value(&[]));
    }
}
