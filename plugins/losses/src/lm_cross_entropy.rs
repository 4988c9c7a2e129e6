//! Token-level cross-entropy for captioning and language modelling, with padding skipped
//! and optional label smoothing.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Kind, Reduction, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};

use crate::common::{input, optional_input};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct LmCrossEntropyConfig {
    /// Target id that is not scored. Plexus tokenizers pad with 0, hence the default.
    pub ignore_index: i64,
    /// Label smoothing ε in [0, 1): the target distribution is (1-ε)·one-hot + ε/V.
    pub label_smoothing: f64,
}

impl Default for LmCrossEntropyConfig {
    fn default() -> Self {
        Self { ignore_index: 0, label_smoothing: 0.0 }
    }
}

#[derive(Debug)]
pub struct LmCrossEntropy {
    cfg: LmCrossEntropyConfig,
}

impl LmCrossEntropy {
    pub fn new(_p: &nn::Path, cfg: &LmCrossEntropyConfig) -> Result<Self> {
        if !(0.0..1.0).contains(&cfg.label_smoothing) {
            return Err(Error::other(format!("lm_cross_entropy loss: label_smoothing must be in [0, 1), got {}", cfg.label_smoothing)));
        }
        Ok(Self { cfg: cfg.clone() })
    }
}

impl Loss for LmCrossEntropy {
    /// Inputs: `logits` `[B, L, V]`, `targets` `[B, L]` i64 (the label of position t is
    /// `targets[:, t]`: the caller shifts for next-token prediction), optional `mask`
    /// `[B, L]` (non-zero = scored). Positions whose target is `ignore_index` are not
    /// scored. Output: mean CE over the scored tokens (0 when none is); logs `perplexity`
    /// (exp of the unsmoothed mean CE) and `tokens` (how many were scored).
    fn compute(&self, inputs: &TensorMap, _train: bool) -> Result<LossOutput> {
        let logits = input(inputs, "logits", 3, "lm_cross_entropy", "[B, L, V]")?;
        let targets = input(inputs, "targets", 2, "lm_cross_entropy", "[B, L] i64 token ids")?;
        let (size, v) = (logits.size(), logits.size()[2]);
        if targets.size() != size[..2] || targets.kind() != Kind::Int64 {
            return Err(Error::shape(format!(
                "lm_cross_entropy loss: `targets` must be i64 [B, L] = {:?} to match `logits` {size:?}, got {:?} {:?}",
                &size[..2],
                targets.kind(),
                targets.size()
            )));
        }
        let mut scored = targets.ne(self.cfg.ignore_index).to_kind(Kind::Float); // [B, L]
        if let Some(mask) = optional_input(inputs, "mask", 2, "lm_cross_entropy", "[B, L]")? {
            if mask.size() != targets.size() {
                return Err(Error::shape(format!("lm_cross_entropy loss: `mask` {:?} must match `targets` {:?}", mask.size(), targets.size())));
            }
            scored *= mask.ne(0).to_kind(Kind::Float);
        }
        let flat_logits = logits.reshape([-1, v]); // [B*L, V]
        let flat_targets = targets.reshape([-1]); // [B*L]
        let per_token = |smoothing: f64| {
            flat_logits.f_cross_entropy_loss::<Tensor>(&flat_targets, None, Reduction::None, self.cfg.ignore_index, smoothing)
        };
        let weights = scored.reshape([-1]); // [B*L]
        let count = weights.sum(Kind::Float); // []
        let denominator = count.clamp_min(1.0);
        let mean = |ce: Tensor| (ce * &weights).sum(Kind::Float) / &denominator;
        let loss = mean(per_token(self.cfg.label_smoothing)?);
        let nll = if self.cfg.label_smoothing > 0.0 { mean(per_token(0.0)?).detach() } else { loss.detach() };
        Ok(LossOutput { loss, logs: vec![("perplexity".into(), nll.exp()), ("tokens".into(), count)] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::Device;

    fn loss_of(cfg: LmCrossEntropyConfig, logits: &Tensor, targets: &Tensor) -> f64 {
        let vs = nn::VarStore::new(Device::Cpu);
        let l = LmCrossEntropy::new(&vs.root(), &cfg).unwrap();
        l.compute(&TensorMap::new().with("logits", logits).with("targets", targets), true).unwrap().loss.double_value(&[])
    }

    #[test]
    fn padding_is_skipped_and_smoothing_matches_hand_computed_values() {
        // Uniform logits over V = 4: every scored token costs ln 4, with or without
        // smoothing; the padded position must not change the mean.
        let logits = Tensor::zeros([1, 3, 4], (Kind::Float, Device::Cpu));
        let targets = Tensor::from_slice(&[2i64, 1, 0]).view([1, 3]);
        let plain = loss_of(LmCrossEntropyConfig::default(), &logits, &targets);
        assert!((plain - 4f64.ln()).abs() < 1e-6, "{plain}");
        // Logits [ln 3, 0]: p(target 0) = 3/4. With ε = 0.2 over V = 2 the target is
        // [0.9, 0.1]: loss = -0.9 ln(3/4) - 0.1 ln(1/4).
        let logits = Tensor::from_slice(&[3f32.ln(), 0.0]).view([1, 1, 2]);
        let targets = Tensor::from_slice(&[0i64]).view([1, 1]);
        let cfg = LmCrossEntropyConfig { ignore_index: -100, label_smoothing: 0.2 };
        let expected = -0.9 * 0.75f64.ln() - 0.1 * 0.25f64.ln();
        assert!((loss_of(cfg, &logits, &targets) - expected).abs() < 1e-6);
    }

    #[test]
    fn all_padding_gives_zero_not_nan() {
        let logits = Tensor::randn([2, 3, 5], (Kind::Float, Device::Cpu));
        let targets = Tensor::zeros([2, 3], (Kind::Int64, Device::Cpu));
        assert_eq!(loss_of(LmCrossEntropyConfig::default(), &logits, &targets), 0.0);
    }
}
