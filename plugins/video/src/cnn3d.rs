//! A small 3D CNN over video clips (as in C3D, scaled down): each stage convolves time and
//! space together, so motion and appearance are learnt jointly.
use plexus_nn::expect_rank;
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Kind, Tensor};
use plexus_plugin::{Encoder, Error, Modality, Result};

use plexus_nn::Pool;

/// Config of `video_cnn3d`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct VideoCnn3dConfig {
    /// Channels of each frame (must match the loader's `video.channels`).
    pub in_channels: i64,
    /// Typical frame side; any size works (spatial mean), this sizes conformance inputs.
    pub image_size: i64,
    /// Typical number of frames; any length works, this sizes conformance inputs.
    pub frames: i64,
    /// Output channels of each stage; each stage halves height and width (stride 2).
    pub channels: Vec<i64>,
    /// Temporal stride of each stage (same length as `channels`); 1 keeps every frame.
    pub time_strides: Vec<i64>,
    /// Temporal kernel size (odd); the spatial kernel is 3×3.
    pub time_kernel: i64,
    pub output_dim: i64,
    /// `mean` → `[B, output_dim]`; `none` → `[B, T', output_dim]`, T' = T / Π time_strides (rounded up).
    pub pool: Pool,
}

impl Default for VideoCnn3dConfig {
    fn default() -> Self {
        Self {
            in_channels: 3,
            image_size: 32,
            frames: 16,
            channels: vec![16, 32, 64],
            time_strides: vec![1, 1, 1],
            time_kernel: 3,
            output_dim: 128,
            pool: Pool::Mean,
        }
    }
}

#[derive(Debug)]
pub struct VideoCnn3d {
    stages: Vec<(nn::Conv3D, nn::GroupNorm)>,
    proj: nn::Linear,
    cfg: VideoCnn3dConfig,
}

impl VideoCnn3d {
    pub fn new(p: &nn::Path, cfg: &VideoCnn3dConfig) -> Result<Self> {
        let bad = |msg: String| Err(Error::other(format!("video_cnn3d: {msg} (got {cfg:?})")));
        if cfg.channels.is_empty() || cfg.channels.iter().any(|&c| c < 1) {
            return bad("`channels` must be a non-empty list of positive widths".into());
        }
        if cfg.time_strides.len() != cfg.channels.len() || cfg.time_strides.iter().any(|&s| s < 1) {
            return bad(format!("`time_strides` must hold one stride >= 1 per stage ({} stages)", cfg.channels.len()));
        }
        if cfg.time_kernel < 1 || cfg.time_kernel % 2 == 0 {
            return bad("`time_kernel` must be odd and >= 1".into());
        }
        if cfg.in_channels < 1 || cfg.output_dim < 1 {
            return bad("`in_channels` and `output_dim` must be >= 1".into());
        }
        let mut stages = Vec::new();
        let mut input = cfg.in_channels;
        for (i, (&c, &st)) in cfg.channels.iter().zip(&cfg.time_strides).enumerate() {
            // tch's defaults (Kaiming-uniform weights), with a per-axis stride and padding.
            let d = nn::ConvConfig::default();
            let conv_cfg = nn::ConvConfigND::<[i64; 3]> {
                stride: [st, 2, 2],
                padding: [cfg.time_kernel / 2, 1, 1],
                dilation: [1; 3],
                groups: 1,
                bias: true,
                ws_init: d.ws_init,
                bs_init: d.bs_init,
                padding_mode: d.padding_mode,
            };
            let conv = nn::conv(p / format!("conv{i}"), input, c, [cfg.time_kernel, 3, 3], conv_cfg);
            // One group: a layer norm over each frame's channels and pixels (a group of one
            // channel on a 1×1 map would normalise to a constant).
            stages.push((conv, nn::group_norm(p / format!("norm{i}"), 1, c, Default::default())));
            input = c;
        }
        Ok(Self { stages, proj: nn::linear(p / "proj", input, cfg.output_dim, Default::default()), cfg: cfg.clone() })
    }

    /// Frames left after the stages for an input of `frames` frames.
    pub fn output_frames(&self, frames: i64) -> i64 {
        let pad = self.cfg.time_kernel / 2;
        self.cfg.time_strides.iter().fold(frames, |t, &s| (t + 2 * pad - self.cfg.time_kernel) / s + 1)
    }
}

/// Norm within each frame, so that a time step's features do not depend on the rest
/// of the clip (nor on how much zero padding extends it): `[B, C, T, H, W]` → same shape.
fn frame_norm(norm: &nn::GroupNorm, x: &Tensor) -> Result<Tensor> {
    let (b, c, t, h, w) = x.size5()?;
    let frames = x.transpose(1, 2).reshape([b * t, c, h, w]); // [B·T, C, H, W]
    Ok(norm.forward(&frames).reshape([b, t, c, h, w]).transpose(1, 2)) // [B, C, T, H, W]
}

impl Encoder for VideoCnn3d {
    fn modality(&self) -> Modality {
        Modality::Video
    }

    fn output_dim(&self) -> i64 {
        self.cfg.output_dim
    }

    /// video `[B, T, C, H, W]` → `[B, output_dim]` (`pool: mean`) or `[B, T', output_dim]` (`pool: none`).
    fn encode(&self, video: &Tensor, _train: bool) -> Result<Tensor> {
        let size = expect_rank(video, 5, "video_cnn3d input")?;
        if size[2] != self.cfg.in_channels || size[1] < 1 || size[3] < 1 || size[4] < 1 {
            return Err(Error::shape(format!("video_cnn3d expects [B, T>=1, {}, H, W], got {size:?}", self.cfg.in_channels)));
        }
        let mut x = video.f_permute([0, 2, 1, 3, 4])?; // [B, C, T, H, W], as conv3d wants
        for (conv, norm) in &self.stages {
            x = frame_norm(norm, &conv.forward(&x))?.gelu("none"); // [B, c_i, T_i, H_i, W_i]
        }
        let per_step = x.mean_dim([3i64, 4].as_slice(), false, Kind::Float).transpose(1, 2); // [B, T', c]
        let features = self.proj.forward(&per_step); // [B, T', output_dim]
        Ok(self.cfg.pool.apply(features)) // [B, output_dim] or [B, T', output_dim]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::Device;

    fn small(pool: Pool, time_strides: Vec<i64>) -> (nn::VarStore, VideoCnn3d) {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = VideoCnn3dConfig { in_channels: 1, image_size: 8, frames: 6, channels: vec![4, 8], time_strides, time_kernel: 3, output_dim: 5, pool };
        let enc = VideoCnn3d::new(&vs.root(), &cfg).unwrap();
        (vs, enc)
    }

    #[test]
    fn per_step_output_has_the_strided_length_and_pooling_is_its_mean() {
        let (_vs, enc) = small(Pool::None, vec![1, 2]);
        let video = Tensor::randn([2, 7, 1, 8, 8], (Kind::Float, Device::Cpu));
        let steps = enc.encode(&video, false).unwrap();
        assert_eq!(steps.size(), [2, enc.output_frames(7), 5]);
        assert_eq!(enc.output_frames(7), 4);
        let mean = steps.mean_dim([1i64].as_slice(), false, Kind::Float);
        let pooled = VideoCnn3d { cfg: VideoCnn3dConfig { pool: Pool::Mean, ..enc.cfg.clone() }, ..enc };
        assert!(pooled.encode(&video, false).unwrap().allclose(&mean, 1e-6, 1e-6, false));
    }

    #[test]
    fn a_frame_only_affects_nearby_output_steps() {
        // Two stages of temporal kernel 3, stride 1: the receptive field is ±2 frames.
        let (_vs, enc) = small(Pool::None, vec![1, 1]);
        let video = Tensor::randn([1, 10, 1, 8, 8], (Kind::Float, Device::Cpu));
        let changed = video.copy();
        let _ = changed.narrow(1, 0, 1).fill_(3.0);
        let diff = (enc.encode(&video, false).unwrap() - enc.encode(&changed, false).unwrap()).abs().amax([0i64, 2].as_slice(), false);
        let diff = Vec::<f64>::try_from(diff).unwrap();
        assert!(diff[..3].iter().all(|&d| d > 0.0), "{diff:?}");
        assert!(diff[3..].iter().all(|&d| d == 0.0), "{diff:?}");
    }

    #[test]
    fn bad_configs_and_inputs_are_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let err = |cfg: VideoCnn3dConfig| VideoCnn3d::new(&vs.root(), &cfg).unwrap_err().to_string();
        assert!(err(VideoCnn3dConfig { time_strides: vec![1], ..Default::default() }).contains("time_strides"));
        assert!(err(VideoCnn3dConfig { time_kernel: 2, ..Default::default() }).contains("time_kernel"));
        assert!(err(VideoCnn3dConfig { channels: vec![], time_strides: vec![], ..Default::default() }).contains("channels"));
        let (_vs, enc) = small(Pool::Mean, vec![1, 1]);
        let e = enc.encode(&Tensor::randn([2, 4, 3, 8, 8], (Kind::Float, Device::Cpu)), false).unwrap_err().to_string();
        assert!(e.contains("[B, T>=1, 1, H, W]"), "{e}");
    }
}
