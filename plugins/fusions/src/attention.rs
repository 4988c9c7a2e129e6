//! Multi-head attention with a key mask, and a pre-norm encoder block built on it.
//! (plexus-nn's blocks have no key-padding mask, which fusions over optional modalities
//! need.)
use plexus_plugin::tch::{nn, nn::Module, Tensor};

use crate::common::masked_softmax;

#[derive(Debug)]
pub struct MaskedAttention {
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    out: nn::Linear,
    heads: i64,
}

impl MaskedAttention {
    /// `width` must be a multiple of `heads` (checked by the callers' configs).
    pub fn new(p: &nn::Path, width: i64, heads: i64) -> Self {
        let lin = |name: &str| nn::linear(p / name, width, width, Default::default());
        Self { q: lin("q_proj"), k: lin("k_proj"), v: lin("v_proj"), out: lin("out_proj"), heads }
    }

    /// query `[B, Lq, W]`, keys/values `[B, Lk, W]`, key_mask `[B, Lk]` f32 (1 = attend)
    /// → `[B, Lq, W]`. A query whose keys are all masked attends to nothing (zeros).
    pub fn forward(&self, query: &Tensor, kv: &Tensor, key_mask: &Tensor) -> Tensor {
        let (b, lq, w) = query.size3().expect("callers build [B, L, W] tokens");
        let lk = kv.size()[1];
        let hd = w / self.heads;
        let split = |t: Tensor, l: i64| t.view([b, l, self.heads, hd]).transpose(1, 2); // [B, H, L, hd]
        let q = split(self.q.forward(query), lq);
        let k = split(self.k.forward(kv), lk);
        let v = split(self.v.forward(kv), lk);
        let scores = q.matmul(&k.transpose(-2, -1)) / (hd as f64).sqrt(); // [B, H, Lq, Lk]
        let weights = masked_softmax(&scores, &key_mask.view([b, 1, 1, lk])); // [B, H, Lq, Lk]
        let merged = weights.matmul(&v).transpose(1, 2).contiguous().view([b, lq, w]); // [B, Lq, W]
        self.out.forward(&merged)
    }
}

/// Pre-norm transformer encoder block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Debug)]
pub struct EncoderBlock {
    ln_1: nn::LayerNorm,
    attn: MaskedAttention,
    ln_2: nn::LayerNorm,
    fc: nn::Linear,
    proj: nn::Linear,
}

impl EncoderBlock {
    pub fn new(p: &nn::Path, width: i64, heads: i64, hidden: i64) -> Self {
        Self {
            ln_1: nn::layer_norm(p / "ln_1", vec![width], Default::default()),
            attn: MaskedAttention::new(&(p / "attn"), width, heads),
            ln_2: nn::layer_norm(p / "ln_2", vec![width], Default::default()),
            fc: nn::linear(p / "mlp" / "c_fc", width, hidden, Default::default()),
            proj: nn::linear(p / "mlp" / "c_proj", hidden, width, Default::default()),
        }
    }

    /// x `[B, L, W]`, key_mask `[B, L]` f32 → `[B, L, W]`.
    pub fn forward(&self, x: &Tensor, key_mask: &Tensor) -> Tensor {
        let normed = self.ln_1.forward(x);
        let x = x + self.attn.forward(&normed, &normed, key_mask);
        let h = self.fc.forward(&self.ln_2.forward(&x)).gelu("none");
        &x + self.proj.forward(&h)
    }
}
