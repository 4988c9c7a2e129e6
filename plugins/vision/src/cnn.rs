//! A small convolutional image encoder: stages of conv 3×3 → group norm → ReLU → max-pool
//! 2×2, then global average pooling and a linear projection to `output_dim`. Cheap on CPU,
//! e.g. as an independently trained classifier or a CLIP image tower for 28×28 images.
use plexus_nn::expect_rank;
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Tensor};
use plexus_plugin::{Encoder, Error, Modality, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct CnnConfig {
    /// Side of the square input images (inputs of another size are refused).
    pub image_size: i64,
    pub in_channels: i64,
    /// Output channels of each stage; every stage halves the resolution (while it is ≥ 2).
    pub channels: Vec<i64>,
    /// Width of the output embedding.
    pub output_dim: i64,
}

impl Default for CnnConfig {
    fn default() -> Self {
        Self { image_size: 28, in_channels: 1, channels: vec![32, 64, 128], output_dim: 128 }
    }
}

/// Groups of the stage's group norm: the largest divisor of `channels` up to 8. Group
/// norm rather than batch norm keeps examples independent and eval mode stateless.
fn groups(channels: i64) -> i64 {
    (1..=8.min(channels)).rev().find(|g| channels % g == 0).unwrap_or(1)
}

#[derive(Debug)]
struct Stage {
    conv: nn::Conv2D,
    norm: nn::GroupNorm,
    pool: bool,
}

#[derive(Debug)]
pub struct Cnn {
    stages: Vec<Stage>,
    proj: nn::Linear,
    cfg: CnnConfig,
}

impl Cnn {
    pub fn new(p: &nn::Path, cfg: &CnnConfig) -> Result<Self> {
        if cfg.channels.is_empty() {
            return Err(Error::other("cnn: `channels` must list at least one stage"));
        }
        for (key, value) in [("image_size", cfg.image_size), ("in_channels", cfg.in_channels), ("output_dim", cfg.output_dim)] {
            if value < 1 {
                return Err(Error::other(format!("cnn: `{key}` must be >= 1, got {value}")));
            }
        }
        if let Some(c) = cfg.channels.iter().find(|&&c| c < 1) {
            return Err(Error::other(format!("cnn: every entry of `channels` must be >= 1, got {c}")));
        }
        let conv_cfg = nn::ConvConfig { padding: 1, bias: false, ..Default::default() };
        let (mut stages, mut input, mut side) = (Vec::new(), cfg.in_channels, cfg.image_size);
        for (i, &c) in cfg.channels.iter().enumerate() {
            let stage = p / "stages" / i;
            stages.push(Stage {
                conv: nn::conv2d(&stage / "conv", input, c, 3, conv_cfg),
                norm: nn::group_norm(&stage / "norm", groups(c), c, Default::default()),
                pool: side >= 2,
            });
            if side >= 2 {
                side /= 2;
            }
            input = c;
        }
        Ok(Self { stages, proj: nn::linear(p / "proj", input, cfg.output_dim, Default::default()), cfg: cfg.clone() })
    }
}

impl Encoder for Cnn {
    fn modality(&self) -> Modality {
        Modality::Image
    }

    fn output_dim(&self) -> i64 {
        self.cfg.output_dim
    }

    /// images `[B, C, S, S]` → `[B, output_dim]`.
    fn encode(&self, images: &Tensor, _train: bool) -> Result<Tensor> {
        let size = expect_rank(images, 4, "cnn input")?;
        let (c, s) = (self.cfg.in_channels, self.cfg.image_size);
        if size[1] != c || size[2] != s || size[3] != s || size[0] == 0 {
            return Err(Error::shape(format!("cnn expects images [B, {c}, {s}, {s}], got {size:?}")));
        }
        let mut x = images.shallow_clone();
        for stage in &self.stages {
            x = stage.norm.forward(&stage.conv.forward(&x)).relu(); // [B, c_i, s_i, s_i]
            if stage.pool {
                x = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false); // [B, c_i, s_i/2, s_i/2]
            }
        }
        let pooled = x.mean_dim([2, 3].as_slice(), false, x.kind()); // [B, c_last]
        Ok(self.proj.forward(&pooled)) // [B, output_dim]
    }
}
