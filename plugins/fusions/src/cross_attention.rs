//! Cross-modal attention: one modality queries the others.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Tensor};
use plexus_plugin::{Fusion, Modality, ModalityFeatures, Result};

use crate::attention::MaskedAttention;
use crate::common::{all_modalities, config_error, positive, InputSpec, ModalityDims};
use crate::project::Projections;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct CrossAttentionConfig {
    /// Modalities this fusion accepts (at least two; any subset may be given per batch).
    pub modalities: Vec<String>,
    /// Feature width `D_m` of every modality not named in `input_dims`.
    pub input_dim: i64,
    /// Per-modality widths, e.g. `{image: 512, text: 384}`.
    pub input_dims: ModalityDims,
    /// The modality whose features form the query; the others are keys and values.
    pub query: String,
    /// Attention width `W` (a multiple of `heads`).
    pub width: i64,
    pub heads: i64,
    /// Width `D` of the fused output.
    pub output_dim: i64,
}

impl Default for CrossAttentionConfig {
    fn default() -> Self {
        Self {
            modalities: all_modalities(),
            input_dim: 16,
            input_dims: ModalityDims::default(),
            query: "image".into(),
            width: 16,
            heads: 2,
            output_dim: 16,
        }
    }
}

/// `q = Linear_q(x_q)` (a learned `null_query` where the query modality is absent),
/// keys/values = the other modalities projected plus a learned modality embedding,
/// masked by presence; output `Linear(LN(q + attn(q, kv)))`. With every other modality
/// absent the attention term is zero, so the output falls back to the query path.
#[derive(Debug)]
pub struct CrossAttentionFusion {
    spec: InputSpec,
    query_slot: usize,
    proj: Projections,
    modality_embed: Tensor,
    null_query: Tensor,
    attn: MaskedAttention,
    ln: nn::LayerNorm,
    head: nn::Linear,
    output_dim: i64,
}

impl CrossAttentionFusion {
    pub fn new(p: &nn::Path, cfg: &CrossAttentionConfig) -> Result<Self> {
        let name = "cross_attention";
        let spec = InputSpec::new(name, &cfg.modalities, cfg.input_dim, &cfg.input_dims)?;
        if spec.slots.len() < 2 {
            return Err(config_error(name, "modalities", "cross-attention needs at least two modalities (a query and something to attend to)"));
        }
        let query = Modality::parse(&cfg.query).ok_or_else(|| config_error(name, "query", format!("unknown modality `{}`", cfg.query)))?;
        let query_slot = spec
            .slots
            .iter()
            .position(|(m, _)| *m == query)
            .ok_or_else(|| config_error(name, "query", format!("`{query}` is not in `modalities`")))?;
        let width = positive(name, "width", cfg.width)?;
        let heads = positive(name, "heads", cfg.heads)?;
        if width % heads != 0 {
            return Err(config_error(name, "heads", format!("width {width} must be a multiple of heads {heads}")));
        }
        let output_dim = positive(name, "output_dim", cfg.output_dim)?;
        let m = spec.slots.len() as i64;
        Ok(Self {
            proj: Projections::new(p, &spec, width),
            modality_embed: p.var("modality_embed", &[m, width], nn::Init::Randn { mean: 0.0, stdev: 0.02 }),
            null_query: p.var("null_query", &[width], nn::Init::Randn { mean: 0.0, stdev: 0.02 }),
            attn: MaskedAttention::new(&(p / "attn"), width, heads),
            ln: nn::layer_norm(p / "ln", vec![width], Default::default()),
            head: nn::linear(p / "head", width, output_dim, Default::default()),
            spec,
            query_slot,
            output_dim,
        })
    }
}

impl Fusion for CrossAttentionFusion {
    fn output_dim(&self) -> i64 {
        self.output_dim
    }

    /// features `{m: [B, D_m]}` with presence `[B]` → `[B, output_dim]`.
    fn fuse(&self, features: &ModalityFeatures, _train: bool) -> Result<Tensor> {
        let g = self.spec.gather(features)?;
        let tokens = self.proj.tokens(&g) + self.modality_embed.to_device(g.device).unsqueeze(0); // [B, M, W]
        let presence = g.presence(); // [B, M]
        let qi = self.query_slot as i64;
        let q_present = presence.select(1, qi).unsqueeze(1); // [B, 1]
        let q_absent = q_present.ones_like() - &q_present; // [B, 1]
        let q: Tensor = tokens.select(1, qi) * &q_present + self.null_query.to_device(g.device).unsqueeze(0) * q_absent; // [B, W]
        let others: Vec<i64> = (0..g.slots.len() as i64).filter(|&i| i != qi).collect();
        let index = Tensor::from_slice(&others).to_device(g.device);
        let kv = tokens.index_select(1, &index); // [B, M-1, W]
        let kv_mask = presence.index_select(1, &index); // [B, M-1]
        let attended = self.attn.forward(&q.unsqueeze(1), &kv, &kv_mask).squeeze_dim(1); // [B, W]
        Ok(self.head.forward(&self.ln.forward(&(q + attended)))) // [B, D]
    }
}
