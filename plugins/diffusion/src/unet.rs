//! A small U-Net noise predictor (Ronneberger et al. 2015, as used by DDPM): one residual
//! block per resolution, each conditioned by adding a projection of the embedding (time +
//! CLIP condition) to its features, stride-2 convolutions down, nearest upsampling +
//! convolution up, skip connections concatenated.
use plexus_plugin::tch::{nn, nn::Module as _, Tensor};

/// Groups of a group norm over `channels`: the largest divisor up to 8.
fn groups(channels: i64) -> i64 {
    (1..=8.min(channels)).rev().find(|g| channels % g == 0).unwrap_or(1)
}

fn conv(p: nn::Path, i: i64, o: i64, k: i64, stride: i64) -> nn::Conv2D {
    nn::conv2d(p, i, o, k, nn::ConvConfig { padding: k / 2, stride, ..Default::default() })
}

#[derive(Debug)]
struct ResBlock {
    norm1: nn::GroupNorm,
    conv1: nn::Conv2D,
    emb: nn::Linear,
    norm2: nn::GroupNorm,
    conv2: nn::Conv2D,
    skip: Option<nn::Conv2D>,
}

impl ResBlock {
    fn new(p: nn::Path, i: i64, o: i64, emb_dim: i64) -> Self {
        Self {
            norm1: nn::group_norm(&p / "norm1", groups(i), i, Default::default()),
            conv1: conv(&p / "conv1", i, o, 3, 1),
            emb: nn::linear(&p / "emb", emb_dim, o, Default::default()),
            norm2: nn::group_norm(&p / "norm2", groups(o), o, Default::default()),
            conv2: conv(&p / "conv2", o, o, 3, 1),
            skip: (i != o).then(|| conv(&p / "skip", i, o, 1, 1)),
        }
    }

    /// x `[B, i, H, W]`, emb `[B, E]` → `[B, o, H, W]`.
    fn forward(&self, x: &Tensor, emb: &Tensor) -> Tensor {
        let h = self.conv1.forward(&self.norm1.forward(x).silu()); // [B, o, H, W]
        let h = h + self.emb.forward(&emb.silu()).unsqueeze(-1).unsqueeze(-1); // [B, o, H, W]
        let h = self.conv2.forward(&self.norm2.forward(&h).silu()); // [B, o, H, W]
        match &self.skip {
            Some(s) => s.forward(x) + h,
            None => x + h,
        }
    }
}

#[derive(Debug)]
pub struct UNet {
    conv_in: nn::Conv2D,
    down: Vec<ResBlock>,
    downsample: Vec<nn::Conv2D>,
    mid: ResBlock,
    /// From the lowest level up: (upsampling conv, except at the lowest level; block).
    up: Vec<(Option<nn::Conv2D>, ResBlock)>,
    norm_out: nn::GroupNorm,
    conv_out: nn::Conv2D,
}

impl UNet {
    /// `channels[i]`: width at resolution level i (level 0 = full size); needs ≥ 1 level.
    pub fn new(p: &nn::Path, in_channels: i64, channels: &[i64], emb_dim: i64) -> Self {
        let levels = channels.len();
        let c0 = channels[0];
        let mut down = Vec::new();
        let mut downsample = Vec::new();
        let mut prev = c0;
        for (i, &c) in channels.iter().enumerate() {
            down.push(ResBlock::new(p / "down" / i, prev, c, emb_dim));
            if i + 1 < levels {
                downsample.push(conv(p / "downsample" / i, c, c, 3, 2));
            }
            prev = c;
        }
        let last = channels[levels - 1];
        let mid = ResBlock::new(p / "mid", last, last, emb_dim);
        // Up path, from the lowest level: level i takes the path's features (after
        // upsampling to level i's size and channels) concatenated with level i's skip.
        let up = (0..levels)
            .rev()
            .map(|i| {
                let c = channels[i];
                let upsample = (i + 1 < levels).then(|| conv(p / "upsample" / i, channels[i + 1], c, 3, 1));
                (upsample, ResBlock::new(p / "up" / i, if i + 1 < levels { 2 * c } else { last + c }, c, emb_dim))
            })
            .collect();
        Self {
            conv_in: conv(p / "conv_in", in_channels, c0, 3, 1),
            down,
            downsample,
            mid,
            up,
            norm_out: nn::group_norm(p / "norm_out", groups(c0), c0, Default::default()),
            conv_out: conv(p / "conv_out", c0, in_channels, 3, 1),
        }
    }

    /// x `[B, C, H, W]`, emb `[B, E]` → predicted noise `[B, C, H, W]`.
    pub fn forward(&self, x: &Tensor, emb: &Tensor) -> Tensor {
        let levels = self.down.len();
        let mut h = self.conv_in.forward(x); // [B, c0, H, W]
        let mut skips = Vec::with_capacity(levels);
        for (i, block) in self.down.iter().enumerate() {
            h = block.forward(&h, emb); // [B, c_i, H_i, W_i]
            skips.push(h.shallow_clone());
            if let Some(down) = self.downsample.get(i) {
                h = down.forward(&h); // [B, c_i, ⌈H_i/2⌉, ⌈W_i/2⌉]
            }
        }
        h = self.mid.forward(&h, emb); // [B, c_last, H_last, W_last]
        for ((upsample, block), skip) in self.up.iter().zip(skips.iter().rev()) {
            if let Some(up) = upsample {
                let size = skip.size();
                h = up.forward(&h.upsample_nearest2d([size[2], size[3]].as_slice(), None, None)); // [B, c_i, H_i, W_i]
            }
            h = block.forward(&Tensor::cat(&[&h, skip], 1), emb); // [B, c_i, H_i, W_i]
        }
        self.conv_out.forward(&self.norm_out.forward(&h).silu()) // [B, C, H, W]
    }
}
