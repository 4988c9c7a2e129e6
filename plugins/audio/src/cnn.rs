//! A small CNN over log-mel spectrograms, treated as one-channel images.
use plexus_nn::expect_rank;
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Tensor};
use plexus_plugin::{Encoder, Error, Modality, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct AudioCnnConfig {
    /// Mel bands of the input (must match the loader's `audio.n_mels`).
    pub n_mels: i64,
    /// Typical number of frames; any length works (global pooling), this sizes checks.
    pub frames: i64,
    /// Output channels of each conv stage; each stage halves both axes.
    pub channels: Vec<i64>,
    pub output_dim: i64,
}

impl Default for AudioCnnConfig {
    fn default() -> Self {
        Self { n_mels: 64, frames: 100, channels: vec![16, 32, 64], output_dim: 128 }
    }
}

#[derive(Debug)]
pub struct AudioCnn {
    stages: Vec<(nn::Conv2D, nn::GroupNorm)>,
    proj: nn::Linear,
    cfg: AudioCnnConfig,
}

impl AudioCnn {
    pub fn new(p: &nn::Path, cfg: &AudioCnnConfig) -> Result<Self> {
        if cfg.channels.is_empty() || cfg.channels.iter().any(|&c| c < 1) || cfg.n_mels < 1 || cfg.output_dim < 1 {
            return Err(Error::other(format!("audio_cnn: channels must be a non-empty list of positive widths, n_mels and output_dim >= 1 (got {cfg:?})")));
        }
        // Each stage halves the mel axis: it must not shrink below 1 before the last stage.
        if cfg.n_mels >> (cfg.channels.len() - 1) < 1 {
            return Err(Error::other(format!("audio_cnn: {} stages halve n_mels {} below one band", cfg.channels.len(), cfg.n_mels)));
        }
        let conv = nn::ConvConfig { padding: 1, ..Default::default() };
        let mut stages = Vec::new();
        let mut input = 1;
        for (i, &c) in cfg.channels.iter().enumerate() {
            let groups = gcd(c, 8);
            stages.push((nn::conv2d(p / format!("conv{i}"), input, c, 3, conv), nn::group_norm(p / format!("norm{i}"), groups, c, Default::default())));
            input = c;
        }
        Ok(Self { stages, proj: nn::linear(p / "proj", input, cfg.output_dim, Default::default()), cfg: cfg.clone() })
    }
}

pub(crate) fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Encoder for AudioCnn {
    fn modality(&self) -> Modality {
        Modality::Audio
    }

    fn output_dim(&self) -> i64 {
        self.cfg.output_dim
    }

    /// log-mel `[B, n_mels, T]` → `[B, output_dim]`.
    fn encode(&self, mel: &Tensor, _train: bool) -> Result<Tensor> {
        let size = expect_rank(mel, 3, "audio_cnn input")?;
        if size[1] != self.cfg.n_mels || size[2] < 1 {
            return Err(Error::shape(format!("audio_cnn expects log-mel [B, {}, T>=1], got {size:?}", self.cfg.n_mels)));
        }
        let mut x = mel.unsqueeze(1); // [B, 1, M, T]
        let last = self.stages.len() - 1;
        for (i, (conv, norm)) in self.stages.iter().enumerate() {
            x = norm.forward(&conv.forward(&x)).gelu("none"); // [B, c_i, M_i, T_i]
            // The last stage is pooled globally; short inputs keep at least one frame.
            if i < last && x.size()[2] >= 2 && x.size()[3] >= 2 {
                x = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false); // [B, c_i, M_i/2, T_i/2]
            }
        }
        Ok(self.proj.forward(&x.mean_dim([2i64, 3].as_slice(), false, x.kind()))) // [B, c] → [B, output_dim]
    }
}
