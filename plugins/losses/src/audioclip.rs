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

/// The `<modality>_present` mask `[B]` of the embeddings called `name`, as bool, if given.
fn presence(inputs: &TensorMap, name: &str, batch: i64) -> Result<Option<Tensor>> {
    let mask_name = name.replace("_embeds", "_present");
    let Some(mask) = optional_input(inputs, &mask_name, 1, "audioclip", "[B] bool")? else { return Ok(None) };
    if mask.size()[0] != batch {
        return Err(Error::shape(format!("audioclip loss: `{mask_name}` has {} entries for a batch of {batch}", mask.size()[0])));
    }
    Ok(Some(mask.ne(0)))
}

impl Loss for AudioClipLoss {
    /// Inputs: any two or three of `image_embeds`, `text_embeds`, `audio_embeds`, each
    /// `[B, D]` unnormalised, row i of each from the same example; optional
    /// `image_present`, `text_present`, `audio_present` `[B]` bool (as the data layer's
    /// batches carry them). A modality missing from the batch is left out with its terms;
    /// each pair's terms use only the rows where both of its modalities are present, and a
    /// pair with no such row is left out. Output: the mean of the directional InfoNCE
    /// terms (i→t, t→i, i→a, a→i, t→a, a→t) kept; logs `logit_scale` and each kept pair's
    /// symmetric loss (`image_text`, `image_audio`, `text_audio`).
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
        let batch = present[0].1.size()[0];
        let masks = present.iter().map(|(name, _)| presence(inputs, name, batch)).collect::<Result<Vec<_>>>()?;
        let scale = self.scale.scale(); // []
        let normalized: Vec<Tensor> = present.iter().map(|(_, t)| l2_normalize(t)).collect(); // each [B, D]
        let mut terms = Vec::new();
        let mut logs = vec![("logit_scale".to_string(), scale.detach())];
        for a in 0..present.len() {
            for b in a + 1..present.len() {
                let both = match (&masks[a], &masks[b]) {
                    (None, None) => None,
                    (Some(m), None) | (None, Some(m)) => Some(m.shallow_clone()),
                    (Some(m), Some(n)) => Some(m.logical_and(n)),
                };
                let (x, y) = match both {
                    None => (normalized[a].shallow_clone(), normalized[b].shallow_clone()),
                    Some(both) => {
                        let rows = both.nonzero().squeeze_dim(1); // [n] indices of rows with both
                        if rows.size()[0] == 0 {
                            continue;
                        }
                        (normalized[a].index_select(0, &rows), normalized[b].index_select(0, &rows))
                    }
                };
                let logits = x.matmul(&y.tr()) * &scale; // [n, n] a→b
                let (forward, backward) = (diagonal_ce(&logits), diagonal_ce(&logits.tr()));
                let pair = format!("{}_{}", present[a].0.trim_end_matches("_embeds"), present[b].0.trim_end_matches("_embeds"));
                logs.push((pair, ((&forward + &backward) / 2.0).detach()));
                terms.push(forward);
                terms.push(backward);
            }
        }
        if terms.is_empty() {
            return Err(Error::shape("audioclip loss: no example of the batch has two of its modalities present".to_string()));
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
    fn presence_masks_restrict_each_pair_to_its_complete_rows() {
        // Audio is missing in rows 1 and 3: image-text uses all four rows, the audio pairs
        // rows 0 and 2, and the loss is the mean of the three pair losses.
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = AudioClipLoss::new(&vs.root(), &AudioClipLossConfig { learnable: false, ..Default::default() }).unwrap();
        let [image, text, audio] = [0, 1, 2].map(|_| Tensor::randn([4, 5], (Kind::Float, Device::Cpu)));
        let audio_present = Tensor::from_slice(&[true, false, true, false]);
        let inputs = TensorMap::new()
            .with("image_embeds", &image)
            .with("text_embeds", &text)
            .with("audio_embeds", &audio)
            .with("audio_present", &audio_present);
        let got = loss.compute(&inputs, true).unwrap().loss.double_value(&[]);
        let rows = Tensor::from_slice(&[0i64, 2]);
        let pair = |a: (&str, &Tensor), b: (&str, &Tensor)| {
            loss.compute(&TensorMap::new().with(a.0, a.1).with(b.0, b.1), true).unwrap().loss.double_value(&[])
        };
        let (image_rows, text_rows, audio_rows) = (image.index_select(0, &rows), text.index_select(0, &rows), audio.index_select(0, &rows));
        let expected = (pair(("image_embeds", &image), ("text_embeds", &text))
            + pair(("image_embeds", &image_rows), ("audio_embeds", &audio_rows))
            + pair(("text_embeds", &text_rows), ("audio_embeds", &audio_rows)))
            / 3.0;
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
        // No row with two modalities: an error, not a NaN.
        let none = Tensor::from_slice(&[false, false, false, false]);
        let lonely = TensorMap::new().with("image_embeds", &image).with("audio_embeds", &audio).with("audio_present", &none);
        assert!(loss.compute(&lonely, true).unwrap_err().to_string().contains("no example"));
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
