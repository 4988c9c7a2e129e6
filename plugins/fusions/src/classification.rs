//! `fused_classification`: a linear classifier on fused features, trained with
//! cross-entropy, for fusions trained on labelled examples.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Kind, Reduction, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};

use crate::common::positive;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct FusedClassificationConfig {
    /// Width `D` of `fused_embeds` (the fusion's `output_dim`).
    pub input_dim: i64,
    pub num_classes: i64,
    /// Label smoothing of the cross-entropy, in `[0, 1)`.
    pub label_smoothing: f64,
}

impl Default for FusedClassificationConfig {
    fn default() -> Self {
        Self { input_dim: 16, num_classes: 10, label_smoothing: 0.0 }
    }
}

/// Owns the classifier `head` (`D → num_classes`).
#[derive(Debug)]
pub struct FusedClassification {
    head: nn::Linear,
    input_dim: i64,
    num_classes: i64,
    label_smoothing: f64,
}

impl FusedClassification {
    pub fn new(p: &nn::Path, cfg: &FusedClassificationConfig) -> Result<Self> {
        let name = "fused_classification";
        let input_dim = positive(name, "input_dim", cfg.input_dim)?;
        let num_classes = positive(name, "num_classes", cfg.num_classes)?;
        if !(0.0..1.0).contains(&cfg.label_smoothing) {
            return Err(crate::common::config_error(name, "label_smoothing", format!("must be in [0, 1), got {}", cfg.label_smoothing)));
        }
        Ok(Self { head: nn::linear(p / "head", input_dim, num_classes, Default::default()), input_dim, num_classes, label_smoothing: cfg.label_smoothing })
    }
}

impl Loss for FusedClassification {
    /// Inputs: `fused_embeds` `[B, input_dim]` f32, `labels` `[B]` i64 in
    /// `[0, num_classes)`. Output: mean cross-entropy `[]`; logs `accuracy` `[]`.
    fn compute(&self, inputs: &TensorMap, _train: bool) -> Result<LossOutput> {
        let fused = inputs.get("fused_embeds")?;
        let labels = inputs.get("labels")?;
        let b = fused.size().first().copied().unwrap_or(0);
        if fused.size() != [b, self.input_dim] || labels.size() != [b] || b == 0 {
            return Err(Error::shape(format!(
                "fused_classification needs fused_embeds [B, {}] and labels [B] with B > 0, got {:?} and {:?}",
                self.input_dim,
                fused.size(),
                labels.size()
            )));
        }
        if labels.kind() != Kind::Int64 {
            return Err(Error::shape(format!("fused_classification: labels must be i64, got {:?}", labels.kind())));
        }
        let (lo, hi) = (labels.min().int64_value(&[]), labels.max().int64_value(&[]));
        if lo < 0 || hi >= self.num_classes {
            return Err(Error::shape(format!("fused_classification: labels span [{lo}, {hi}], outside [0, {}) (num_classes)", self.num_classes)));
        }
        let logits = self.head.forward(&fused.to_kind(Kind::Float)); // [B, C]
        let loss = logits.cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, self.label_smoothing); // []
        let accuracy = logits.argmax(-1, false).eq_tensor(labels).to_kind(Kind::Float).mean(Kind::Float).detach(); // []
        Ok(LossOutput { loss, logs: vec![("accuracy".into(), accuracy)] })
    }
}
