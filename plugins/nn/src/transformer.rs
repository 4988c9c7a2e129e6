//! Pre-norm transformer as in open_clip: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
use plexus_plugin::tch::{nn, nn::Module, Tensor};
use plexus_plugin::{Error, Result};

use crate::cpu_kernels::{attention, gelu, layer_norm};

/// LayerNorm with open_clip's parameter names (`weight`, `bias`), eps 1e-5.
#[derive(Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    width: i64,
}

impl LayerNorm {
    pub fn new(p: nn::Path, width: i64) -> Self {
        Self { weight: p.var("weight", &[width], nn::Init::Const(1.0)), bias: p.var("bias", &[width], nn::Init::Const(0.0)), width }
    }
    /// `[.., W]` → `[.., W]`
    pub fn forward(&self, x: &Tensor) -> Tensor {
        layer_norm::layer_norm(x, &self.weight, &self.bias, 1e-5)
    }
    /// The same parameters (see [`Transformer::replica`]).
    pub fn replica(&self) -> Self {
        Self { weight: self.weight.shallow_clone(), bias: self.bias.shallow_clone(), width: self.width }
    }
}

/// A `Linear` on the same parameter tensors.
pub fn linear_replica(l: &nn::Linear) -> nn::Linear {
    nn::Linear { ws: l.ws.shallow_clone(), bs: l.bs.as_ref().map(Tensor::shallow_clone) }
}

#[derive(Debug, Clone, Copy)]
pub struct TransformerConfig {
    pub width: i64,
    pub layers: i64,
    pub heads: i64,
    pub mlp_ratio: f64,
}

/// Multi-head self-attention with a packed `in_proj_weight` `[3W, W]`, like
/// `torch.nn.MultiheadAttention`.
#[derive(Debug)]
struct SelfAttention {
    in_proj_weight: Tensor,
    in_proj_bias: Tensor,
    out_proj: nn::Linear,
    heads: i64,
}

impl SelfAttention {
    fn new(p: nn::Path, width: i64, heads: i64) -> Self {
        let bound = (6.0 / (2.0 * width as f64)).sqrt(); // xavier_uniform on [3W, W], as torch does
        Self {
            in_proj_weight: p.var("in_proj_weight", &[3 * width, width], nn::Init::Uniform { lo: -bound, up: bound }),
            in_proj_bias: p.zeros("in_proj_bias", &[3 * width]),
            out_proj: nn::linear(&p / "out_proj", width, width, Default::default()),
            heads,
        }
    }

    /// `[B, L, W]` → `[B, L, W]`; `causal` masks attention to later positions.
    fn forward(&self, x: &Tensor, causal: bool) -> Tensor {
        let (b, l, w) = x.size3().expect("checked by Transformer::forward");
        let head_dim = w / self.heads;
        let qkv = x.linear(&self.in_proj_weight, Some(&self.in_proj_bias)); // [B, L, 3W]
        if attention::applies(&qkv, self.heads) {
            // `applies` has checked everything the kernels check; were one to refuse anyway,
            // libtorch's kernel below computes the same attention.
            if let Ok(attended) = attention::attention(&qkv, self.heads, causal) {
                return self.out_proj.forward(&attended); // [B, L, W] heads side by side
            }
        }
        let split = |t: &Tensor| t.view([b, l, self.heads, head_dim]).transpose(1, 2); // [B, H, L, hd]
        let chunks = qkv.chunk(3, -1);
        let (q, k, v) = (split(&chunks[0]), split(&chunks[1]), split(&chunks[2]));
        let attended = Tensor::scaled_dot_product_attention(&q, &k, &v, None::<Tensor>, 0.0, causal, None, false);
        let merged = attended.transpose(1, 2).contiguous().view([b, l, w]); // [B, L, W]
        self.out_proj.forward(&merged)
    }

    fn replica(&self) -> Self {
        Self {
            in_proj_weight: self.in_proj_weight.shallow_clone(),
            in_proj_bias: self.in_proj_bias.shallow_clone(),
            out_proj: linear_replica(&self.out_proj),
            heads: self.heads,
        }
    }
}

/// One pre-norm block: `ln_1`, `attn`, `ln_2`, `mlp.c_fc`, `mlp.c_proj` (GELU between).
#[derive(Debug)]
pub struct ResidualAttentionBlock {
    ln_1: LayerNorm,
    attn: SelfAttention,
    ln_2: LayerNorm,
    c_fc: nn::Linear,
    c_proj: nn::Linear,
}

impl ResidualAttentionBlock {
    pub fn new(p: nn::Path, cfg: &TransformerConfig) -> Self {
        let hidden = (cfg.width as f64 * cfg.mlp_ratio).round() as i64;
        let mlp = &p / "mlp";
        Self {
            ln_1: LayerNorm::new(&p / "ln_1", cfg.width),
            attn: SelfAttention::new(&p / "attn", cfg.width, cfg.heads),
            ln_2: LayerNorm::new(&p / "ln_2", cfg.width),
            c_fc: nn::linear(&mlp / "c_fc", cfg.width, hidden, Default::default()),
            c_proj: nn::linear(&mlp / "c_proj", hidden, cfg.width, Default::default()),
        }
    }

    /// `[B, L, W]` → `[B, L, W]`
    pub fn forward(&self, x: &Tensor, causal: bool) -> Tensor {
        let x = x + self.attn.forward(&self.ln_1.forward(x), causal);
        let h = gelu::gelu(&self.c_fc.forward(&self.ln_2.forward(&x)));
        &x + self.c_proj.forward(&h)
    }

    /// The same parameters (see [`Transformer::replica`]).
    pub fn replica(&self) -> Self {
        Self {
            ln_1: self.ln_1.replica(),
            attn: self.attn.replica(),
            ln_2: self.ln_2.replica(),
            c_fc: linear_replica(&self.c_fc),
            c_proj: linear_replica(&self.c_proj),
        }
    }
}

/// A stack of blocks under `resblocks.{i}`.
#[derive(Debug)]
pub struct Transformer {
    blocks: Vec<ResidualAttentionBlock>,
    width: i64,
}

impl Transformer {
    pub fn new(p: nn::Path, cfg: &TransformerConfig) -> Result<Self> {
        if cfg.heads <= 0 || cfg.width % cfg.heads != 0 {
            return Err(Error::other(format!("width {} must be a positive multiple of heads {}", cfg.width, cfg.heads)));
        }
        let blocks = (0..cfg.layers).map(|i| ResidualAttentionBlock::new(&p / "resblocks" / i, cfg)).collect();
        Ok(Self { blocks, width: cfg.width })
    }

    /// `[B, L, W]` → `[B, L, W]`
    pub fn forward(&self, x: &Tensor, causal: bool) -> Result<Tensor> {
        let size = x.size();
        if size.len() != 3 || size[2] != self.width {
            return Err(Error::shape(format!("transformer expects [B, L, {}], got {size:?}", self.width)));
        }
        let mut x = x.shallow_clone();
        for block in &self.blocks {
            x = block.forward(&x, causal);
        }
        Ok(x)
    }

    /// A second handle on the same parameter tensors (shared storage and autograd
    /// identity), which another thread may run while this one does: gradients of both
    /// reach the same variables.
    pub fn replica(&self) -> Self {
        Self { blocks: self.blocks.iter().map(ResidualAttentionBlock::replica).collect(), width: self.width }
    }
}
