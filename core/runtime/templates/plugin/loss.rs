//! A pair-alignment loss: pulls each image embedding towards its caption's.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Kind, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};

/// Config of [`CosineAlignmentLoss`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct CosineAlignmentConfig {
    /// Multiplies the loss.
    pub weight: f64,
}

impl Default for CosineAlignmentConfig {
    fn default() -> Self {
        Self { weight: 1.0 }
    }
}

/// `weight * mean_i (1 - cos(image_i, text_i))`. It has no negatives, so on its own it
/// lets all embeddings collapse to one point: an example of the API, to be combined with
/// a contrastive loss, not a replacement for one.
#[derive(Debug)]
pub struct CosineAlignmentLoss {
    weight: f64,
}

impl CosineAlignmentLoss {
    /// The path is unused here; a loss with parameters (e.g. a learnable temperature)
    /// creates them under it, and the host's optimiser trains them.
    pub fn new(_p: &nn::Path, cfg: &CosineAlignmentConfig) -> Result<Self> {
        Ok(Self { weight: cfg.weight })
    }
}

impl Loss for CosineAlignmentLoss {
    /// Inputs (what the host's trainer passes): `image_embeds` and `text_embeds`, both
    /// `[B, D]` f32, row i of each a positive pair. Output: the scalar loss, and the mean
    /// cosine `[]` as a log (kept a tensor: reading it would sync the device every step).
    fn compute(&self, inputs: &TensorMap, _train: bool) -> Result<LossOutput> {
        let image = inputs.get("image_embeds")?;
        let text = inputs.get("text_embeds")?;
        if image.dim() != 2 || image.size() != text.size() {
            return Err(Error::shape(format!(
                "image_embeds and text_embeds must both be [B, D], got {:?} and {:?}",
                image.size(),
                text.size()
            )));
        }
        let cosine = Tensor::cosine_similarity(image, text, 1, 1e-8); // [B]
        let mean = cosine.mean(Kind::Float); // []
        let loss = (mean.ones_like() - &mean) * self.weight; // []
        Ok(LossOutput { loss, logs: vec![("mean_cosine".into(), mean.detach())] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::conformance;
    use plexus_plugin::tch::Device;

    #[test]
    fn passes_the_conformance_kit() {
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = CosineAlignmentLoss::new(&vs.root(), &CosineAlignmentConfig::default()).unwrap();
        conformance::loss("cosine_alignment", &loss, &conformance::training_inputs(4, 8)).assert_ok();
    }

    #[test]
    fn identical_pairs_cost_nothing() {
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = CosineAlignmentLoss::new(&vs.root(), &CosineAlignmentConfig::default()).unwrap();
        let x = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let out = loss.compute(&TensorMap::new().with("image_embeds", &x).with("text_embeds", &x), false).unwrap();
        assert!(out.loss.double_value(&[]).abs() < 1e-6);
    }
}
