//! A 1-D CNN over log-mel frames: mel bands are the input channels and each stage convolves
//! along time, so the output keeps a time axis for sequence tasks (CTC speech recognition).
pub use plexus_nn::Pool;
use plexus_nn::expect_rank;
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Tensor};
use plexus_plugin::{Encoder, Error, Modality, Result};

/// Config of `audio_conv1d`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct AudioConv1dConfig {
    /// Mel bands of the input (must match the loader's `audio.n_mels`).
    pub n_mels: i64,
    /// Typical number of frames; any length works, this sizes conformance inputs.
    pub frames: i64,
    /// Output channels of each stage.
    pub channels: Vec<i64>,
    /// Time stride of each stage (same length as `channels`).
    pub strides: Vec<i64>,
    /// Kernel size along time (odd).
    pub kernel: i64,
    pub output_dim: i64,
    /// `mean` → `[B, output_dim]`; `none` → `[B, T', output_dim]`, T' = T / Π strides (rounded up).
    pub pool: Pool,
}

impl Default for AudioConv1dConfig {
    fn default() -> Self {
        Self { n_mels: 64, frames: 100, channels: vec![64, 128, 128, 128], strides: vec![2, 2, 2, 1], kernel: 5, output_dim: 128, pool: Pool::Mean }
    }
}

#[derive(Debug)]
pub struct AudioConv1d {
    stages: Vec<(nn::Conv1D, nn::GroupNorm)>,
    proj: nn::Linear,
    cfg: AudioConv1dConfig,
}

impl AudioConv1d {
    pub fn new(p: &nn::Path, cfg: &AudioConv1dConfig) -> Result<Self> {
        let bad = |msg: &str| Err(Error::other(format!("audio_conv1d: {msg} (got {cfg:?})")));
        if cfg.channels.is_empty() || cfg.channels.iter().any(|&c| c < 1) {
            return bad("`channels` must be a non-empty list of positive widths");
        }
        if cfg.strides.len() != cfg.channels.len() || cfg.strides.iter().any(|&s| s < 1) {
            return bad("`strides` must hold one stride >= 1 per stage of `channels`");
        }
        if cfg.kernel < 1 || cfg.kernel % 2 == 0 || cfg.n_mels < 1 || cfg.output_dim < 1 {
            return bad("`kernel` must be odd and >= 1, `n_mels` and `output_dim` >= 1");
        }
        let mut stages = Vec::new();
        let mut input = cfg.n_mels;
        for (i, (&c, &s)) in cfg.channels.iter().zip(&cfg.strides).enumerate() {
            let conv = nn::conv1d(p / format!("conv{i}"), input, c, cfg.kernel, nn::ConvConfig { stride: s, padding: cfg.kernel / 2, ..Default::default() });
            // One group: a layer norm over each frame's channels (with several groups, a
            // group of one channel would normalise to a constant).
            stages.push((conv, nn::group_norm(p / format!("norm{i}"), 1, c, Default::default())));
            input = c;
        }
        Ok(Self { stages, proj: nn::linear(p / "proj", input, cfg.output_dim, Default::default()), cfg: cfg.clone() })
    }

    /// Output frames for an input of `frames` frames.
    pub fn output_frames(&self, frames: i64) -> i64 {
        let pad = self.cfg.kernel / 2;
        self.cfg.strides.iter().fold(frames, |t, &s| (t + 2 * pad - self.cfg.kernel) / s + 1)
    }
}

/// Norm over the channels of each frame separately, so that a frame's features do
/// not depend on the rest of the clip or on its silence padding: `[B, C, T]` → same shape.
fn frame_norm(norm: &nn::GroupNorm, x: &Tensor) -> Result<Tensor> {
    let (b, c, t) = x.size3()?;
    let frames = x.transpose(1, 2).reshape([b * t, c]); // [B·T, C]
    Ok(norm.forward(&frames).reshape([b, t, c]).transpose(1, 2)) // [B, C, T]
}

impl Encoder for AudioConv1d {
    fn modality(&self) -> Modality {
        Modality::Audio
    }

    fn output_dim(&self) -> i64 {
        self.cfg.output_dim
    }

    /// log-mel `[B, n_mels, T]` → `[B, output_dim]` (`pool: mean`) or `[B, T', output_dim]` (`pool: none`).
    fn encode(&self, mel: &Tensor, _train: bool) -> Result<Tensor> {
        let size = expect_rank(mel, 3, "audio_conv1d input")?;
        if size[1] != self.cfg.n_mels || size[2] < 1 {
            return Err(Error::shape(format!("audio_conv1d expects log-mel [B, {}, T>=1], got {size:?}", self.cfg.n_mels)));
        }
        let mut x = mel.shallow_clone(); // [B, M, T]: mel bands as channels
        for (conv, norm) in &self.stages {
            x = frame_norm(norm, &conv.forward(&x))?.gelu("none"); // [B, c_i, T_i]
        }
        let features = self.proj.forward(&x.transpose(1, 2)); // [B, T', output_dim]
        Ok(self.cfg.pool.apply(features)) // [B, output_dim] or [B, T', output_dim]
    }
}
