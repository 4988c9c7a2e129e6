//! A small transformer over one token per modality plus a pooling token.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Kind, Tensor};
use plexus_plugin::{Fusion, ModalityFeatures, Result};

use crate::attention::EncoderBlock;
use crate::common::{all_modalities, config_error, positive, InputSpec, ModalityDims};
use crate::project::Projections;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct MultimodalTransformerConfig {
    /// Modalities this fusion accepts (any subset of them may be given per batch).
    pub modalities: Vec<String>,
    /// Feature width `D_m` of every modality not named in `input_dims`.
    pub input_dim: i64,
    /// Per-modality widths, e.g. `{image: 512, text: 384}`.
    pub input_dims: ModalityDims,
    /// Token width `W` (a multiple of `heads`).
    pub width: i64,
    pub layers: i64,
    pub heads: i64,
    /// MLP hidden width = `mlp_ratio * width`.
    pub mlp_ratio: f64,
    /// Width `D` of the pooled output.
    pub output_dim: i64,
}

impl Default for MultimodalTransformerConfig {
    fn default() -> Self {
        Self {
            modalities: all_modalities(),
            input_dim: 16,
            input_dims: ModalityDims::default(),
            width: 16,
            layers: 1,
            heads: 2,
            mlp_ratio: 2.0,
            output_dim: 16,
        }
    }
}

/// Tokens `[cls, Linear_m(x_m) + e_m ...]` `[B, 1+M, W]` through pre-norm encoder blocks
/// whose key-padding mask hides absent modalities; the output is `Linear(LN(cls))`. The
/// pooling token is always attendable, so an example with nothing present is still finite.
#[derive(Debug)]
pub struct MultimodalTransformer {
    spec: InputSpec,
    proj: Projections,
    modality_embed: Tensor,
    cls: Tensor,
    blocks: Vec<EncoderBlock>,
    ln_post: nn::LayerNorm,
    head: nn::Linear,
    output_dim: i64,
}

impl MultimodalTransformer {
    pub fn new(p: &nn::Path, cfg: &MultimodalTransformerConfig) -> Result<Self> {
        let name = "multimodal_transformer";
        let spec = InputSpec::new(name, &cfg.modalities, cfg.input_dim, &cfg.input_dims)?;
        let width = positive(name, "width", cfg.width)?;
        let heads = positive(name, "heads", cfg.heads)?;
        if width % heads != 0 {
            return Err(config_error(name, "heads", format!("width {width} must be a multiple of heads {heads}")));
        }
        if cfg.layers < 0 {
            return Err(config_error(name, "layers", format!("must be >= 0, got {}", cfg.layers)));
        }
        if !(cfg.mlp_ratio > 0.0) {
            return Err(config_error(name, "mlp_ratio", format!("must be > 0, got {}", cfg.mlp_ratio)));
        }
        let hidden = ((width as f64 * cfg.mlp_ratio).round() as i64).max(1);
        let output_dim = positive(name, "output_dim", cfg.output_dim)?;
        let m = spec.slots.len() as i64;
        let init = nn::Init::Randn { mean: 0.0, stdev: 0.02 };
        Ok(Self {
            proj: Projections::new(p, &spec, width),
            modality_embed: p.var("modality_embed", &[m, width], init),
            cls: p.var("cls", &[width], init),
            blocks: (0..cfg.layers).map(|i| EncoderBlock::new(&(p / "resblocks" / i), width, heads, hidden)).collect(),
            ln_post: nn::layer_norm(p / "ln_post", vec![width], Default::default()),
            head: nn::linear(p / "head", width, output_dim, Default::default()),
            spec,
            output_dim,
        })
    }
}

impl Fusion for MultimodalTransformer {
    fn output_dim(&self) -> i64 {
        self.output_dim
    }

    /// features `{m: [B, D_m]}` with presence `[B]` → `[B, output_dim]`.
    fn fuse(&self, features: &ModalityFeatures, _train: bool) -> Result<Tensor> {
        let g = self.spec.gather(features)?;
        let tokens = self.proj.tokens(&g) + self.modality_embed.to_device(g.device).unsqueeze(0); // [B, M, W]
        let cls = self.cls.to_device(g.device).view([1, 1, -1]).expand([g.batch, 1, -1], false); // [B, 1, W]
        let mut x = Tensor::cat(&[cls, tokens], 1); // [B, 1+M, W]
        let mask = Tensor::cat(&[Tensor::ones([g.batch, 1], (Kind::Float, g.device)), g.presence()], 1); // [B, 1+M]
        for block in &self.blocks {
            x = block.forward(&x, &mask);
        }
        Ok(self.head.forward(&self.ln_post.forward(&x.select(1, 0)))) // [B, D]
    }
}
