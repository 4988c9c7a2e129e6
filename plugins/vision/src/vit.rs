//! ViT image encoder with open_clip's parameter names (`conv1`, `class_embedding`,
//! `positional_embedding`, `ln_pre`, `transformer.resblocks.{i}`, `ln_post`, `proj`).
use plexus_nn::{expect_rank, LayerNorm, Transformer, TransformerConfig};
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Tensor};
use plexus_plugin::{Encoder, Error, Modality, Result};

/// Field names and defaults follow open_clip's `CLIPVisionCfg`; `in_channels` is ours
/// (open_clip assumes RGB) so single-channel data needs no replication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct VitConfig {
    pub image_size: i64,
    pub patch_size: i64,
    pub in_channels: i64,
    pub width: i64,
    pub layers: i64,
    pub head_width: i64,
    pub mlp_ratio: f64,
    /// Output embedding width (open_clip's `embed_dim`).
    pub output_dim: i64,
}

impl Default for VitConfig {
    fn default() -> Self {
        Self { image_size: 224, patch_size: 16, in_channels: 3, width: 768, layers: 12, head_width: 64, mlp_ratio: 4.0, output_dim: 512 }
    }
}

#[derive(Debug)]
pub struct VisionTransformer {
    /// open_clip's patch convolution weight `conv1.weight` `[W, C, p, p]` (no bias). The
    /// stride equals the kernel, so it is applied as one matmul over the patches: on the
    /// CPU libtorch's convolution backward costs several times that product.
    conv1: Tensor,
    class_embedding: Tensor,
    positional_embedding: Tensor,
    ln_pre: LayerNorm,
    transformer: Transformer,
    ln_post: LayerNorm,
    proj: Tensor,
    cfg: VitConfig,
}

impl VisionTransformer {
    pub fn new(p: &nn::Path, cfg: &VitConfig) -> Result<Self> {
        if cfg.patch_size <= 0 || cfg.image_size % cfg.patch_size != 0 {
            return Err(Error::other(format!(
                "vit: image_size {} must be a multiple of patch_size {}",
                cfg.image_size, cfg.patch_size
            )));
        }
        if cfg.head_width <= 0 || cfg.width % cfg.head_width != 0 {
            return Err(Error::other(format!("vit: width {} must be a multiple of head_width {}", cfg.width, cfg.head_width)));
        }
        let grid = cfg.image_size / cfg.patch_size;
        let scale = (cfg.width as f64).powf(-0.5);
        let tcfg = TransformerConfig {
            width: cfg.width,
            layers: cfg.layers,
            heads: cfg.width / cfg.head_width,
            mlp_ratio: cfg.mlp_ratio,
        };
        Ok(Self {
            conv1: (p / "conv1").var("weight", &[cfg.width, cfg.in_channels, cfg.patch_size, cfg.patch_size], nn::init::DEFAULT_KAIMING_UNIFORM), // as nn::conv2d
            class_embedding: p.var("class_embedding", &[cfg.width], nn::Init::Randn { mean: 0.0, stdev: scale }),
            positional_embedding: p.var(
                "positional_embedding",
                &[grid * grid + 1, cfg.width],
                nn::Init::Randn { mean: 0.0, stdev: scale },
            ),
            ln_pre: LayerNorm::new(p / "ln_pre", cfg.width),
            transformer: Transformer::new(p / "transformer", &tcfg)?,
            ln_post: LayerNorm::new(p / "ln_post", cfg.width),
            proj: p.var("proj", &[cfg.width, cfg.output_dim], nn::Init::Randn { mean: 0.0, stdev: scale }),
            cfg: cfg.clone(),
        })
    }
}

impl Encoder for VisionTransformer {
    fn modality(&self) -> Modality {
        Modality::Image
    }

    fn output_dim(&self) -> i64 {
        self.cfg.output_dim
    }

    /// images `[B, C, H, W]` → `[B, output_dim]` (class-token pooling, then `proj`).
    fn encode(&self, images: &Tensor, _train: bool) -> Result<Tensor> {
        let size = expect_rank(images, 4, "vit input")?;
        let (c, s) = (self.cfg.in_channels, self.cfg.image_size);
        if size[1] != c || size[2] != s || size[3] != s {
            return Err(Error::shape(format!("vit expects images [B, {c}, {s}, {s}], got {size:?}")));
        }
        let (b, p, w) = (size[0], self.cfg.patch_size, self.cfg.width);
        let g = s / p;
        let patches = images.reshape([b, c, g, p, g, p]).permute([0, 2, 4, 1, 3, 5]).reshape([b, g * g, c * p * p]); // [B, g*g, C·p²]
        let tokens = patches.matmul(&self.conv1.reshape([w, c * p * p]).tr()); // [B, g*g, W]
        let cls = self.class_embedding.view([1, 1, -1]).expand([b, 1, self.cfg.width], false); // [B, 1, W]
        let x = Tensor::cat(&[cls, tokens], 1) + &self.positional_embedding; // [B, g*g+1, W]
        let x = self.transformer.forward(&self.ln_pre.forward(&x), false)?; // [B, g*g+1, W]
        let pooled = self.ln_post.forward(&x.select(1, 0)); // [B, W]
        Ok(pooled.matmul(&self.proj)) // [B, output_dim]
    }

    fn replica(&self) -> Option<Box<dyn Encoder + Send>> {
        Some(Box::new(Self {
            conv1: self.conv1.shallow_clone(),
            class_embedding: self.class_embedding.shallow_clone(),
            positional_embedding: self.positional_embedding.shallow_clone(),
            ln_pre: self.ln_pre.replica(),
            transformer: self.transformer.replica(),
            ln_post: self.ln_post.replica(),
            proj: self.proj.shallow_clone(),
            cfg: self.cfg.clone(),
        }))
    }
}
