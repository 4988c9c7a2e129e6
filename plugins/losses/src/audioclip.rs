//! AudioCLIP's three-way contrastive loss (Guzhov et al. 2022): InfoNCE in both
//! directions between every pair of the image, text and audio embeddings present.
use plexus_plugin::tch::{nn, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};

use crate::clip::{ClipLoss, ClipLossConfig};
use crate::common::{diagonal_ce, l2_normalize, optional_input, same_shape};

/// Same fields as `clip` (one shared logit scale), so that with two modalities the two
/// losses agree exactly.
pub type AudioClipLossConfig = ClipLossConfig;

const MODALITIES: [&str; 3] = ["image_embeds", "text_embeds", "audio_embeds"];

#[derive(Debug)]
pub struct AudioClipLoss {
    /// Owns the logit scale (and its clamp).
    scale: ClipLoss,
}

impl AudioClipLoss {
    pub fn new(p: &nn::Path, cfg: &AudioClipLossConfig) -> Result<Self> {
        Ok(Self { scale: ClipLoss::new(p, cfg)? })
    }
}

impl Loss for AudioClipLoss {
    /// Inputs: any two or three of `image_embeds`, `text_embeds`, `audio_embeds`, each
    /// `[B, D]` unnormalised, row i of each from the same example. A modality missing from
    /// the batch is left out with its terms. Output: the mean of the directional InfoNCE
    /// terms (i→t, t→i, i→a, a→i, t→a, a→t) of the present pairs; logs `logit_scale` and
    /// each present pair's symmetric loss (`image_text`, `image_audio`, `text_audio`).
    fn compute(&self, inputs: &TensorMap, _train: bool) -> Result<LossOutput> {
        let mut present: Vec<(&str, &Tensor)> = Vec::new();
        for name in MODALITIES {
            if let Some(t) = optional_input(inputs, name, 2, "audioclip", "[B, D]")? {
                present.push((name, t));
            }
        }
        if present.len() < 2 {
            return Err(Error::MissingInput {
                name: format!("at least two of {} (got {})", MODALITIES.join(", "), present.len()),
                available: inputs.names().join(", "),
            });
        }
        same_shape("audioclip", &present)?;
        let scale = self.scale.scale(); // []
        let normalized: Vec<Tensor> = present.iter().map(|(_, t)| l2_normalize(t)).collect(); // each [B, D]
        let mut terms = Vec::new();
        let mut logs = vec![("logit_scale".to_string(), scale.detach())];
        for a in 0..present.len() {
            for b in a + 1..present.len() {
                let logits = normalized[a].matmul(&normalized[b].tr()) * &scale; // [B, B] a→b
                let (forward, backward) = (diagonal_ce(&logits), diagonal_ce(&logits.tr()));
                let pair = format!("{}_{}", present[a].0.trim_end_matches("_embeds"), present[b].0.trim_end_matches("_embeds"));
                logs.push((pair, ((&forward + &backward) / 2.0).detach()));
                terms.push(forward);
                terms.push(backward);
            }
        }
        let loss = Tensor::stack(&terms, 0).mean(None); // []
        Ok(LossOutput { loss, logs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::{Device, Kind};

    #[test]
    fn three_orthogonal_modalities_match_hand_computed_value() {
        // Every pair is orthogonal unit rows at temperature 1, so all six terms equal
        // -ln(e / (e + B - 1)).
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = AudioClipLossConfig { init_temperature: 1.0, max_logit_scale: 100.0, learnable: false };
        let loss = AudioClipLoss::new(&vs.root(), &cfg).unwrap();
        let x = Tensor::eye(4, (Kind::Float, Device::Cpu));
        let inputs = TensorMap::new().with("image_embeds", &x).with("text_embeds", &x).with("audio_embeds", &x);
        let out = loss.compute(&inputs, true).unwrap();
        let e = std::f64::consts::E;
        assert!((out.loss.double_value(&[]) - -(e / (e + 3.0)).ln()).abs() < 1e-6);
        assert_eq!(out.logs.len(), 4);
    }

    #[test]
    fn one_modality_is_an_error() {
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = AudioClipLoss::new(&vs.root(), &AudioClipLossConfig::default()).unwrap();
        let x = Tensor::eye(4, (Kind::Float, Device::Cpu));
        let err = loss.compute(&TensorMap::new().with("audio_embeds", &x), true).unwrap_err().to_string();
        assert!(err.contains("at least two of"), "{err}");
    }
}
