//! Text tower of CLIP with open_clip's parameter names (`token_embedding.weight`,
//! `positional_embedding`, `transformer.resblocks.{i}`, `ln_final`, `text_projection`).
use plexus_nn::{expect_rank, LayerNorm, Transformer, TransformerConfig};
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Kind, Tensor};
use plexus_plugin::{Encoder, Error, Modality, Result};

/// Field names and defaults follow open_clip's `CLIPTextCfg`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct TextConfig {
    pub context_length: i64,
    pub vocab_size: i64,
    pub width: i64,
    pub heads: i64,
    pub layers: i64,
    pub mlp_ratio: f64,
    /// Output embedding width (open_clip's `embed_dim`).
    pub output_dim: i64,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self { context_length: 77, vocab_size: 49408, width: 512, heads: 8, layers: 12, mlp_ratio: 4.0, output_dim: 512 }
    }
}

#[derive(Debug)]
pub struct TextTransformer {
    token_embedding: Tensor,
    positional_embedding: Tensor,
    transformer: Transformer,
    ln_final: LayerNorm,
    text_projection: Tensor,
    cfg: TextConfig,
}

impl TextTransformer {
    pub fn new(p: &nn::Path, cfg: &TextConfig) -> Result<Self> {
        let tcfg = TransformerConfig { width: cfg.width, layers: cfg.layers, heads: cfg.heads, mlp_ratio: cfg.mlp_ratio };
        Ok(Self {
            // open_clip keeps the table in an `nn.Embedding`, hence the `.weight` suffix.
            token_embedding: (p / "token_embedding").var(
                "weight",
                &[cfg.vocab_size, cfg.width],
                nn::Init::Randn { mean: 0.0, stdev: 0.02 },
            ),
            positional_embedding: p.var(
                "positional_embedding",
                &[cfg.context_length, cfg.width],
                nn::Init::Randn { mean: 0.0, stdev: 0.01 },
            ),
            transformer: Transformer::new(p / "transformer", &tcfg)?,
            ln_final: LayerNorm::new(p / "ln_final", cfg.width),
            text_projection: p.var(
                "text_projection",
                &[cfg.width, cfg.output_dim],
                nn::Init::Randn { mean: 0.0, stdev: (cfg.width as f64).powf(-0.5) },
            ),
            cfg: cfg.clone(),
        })
    }
}

impl Encoder for TextTransformer {
    fn modality(&self) -> Modality {
        Modality::Text
    }

    fn output_dim(&self) -> i64 {
        self.cfg.output_dim
    }

    /// tokens `[B, L]` i64 (L ≤ context_length, EOT = largest id per row) → `[B, output_dim]`.
    fn encode(&self, tokens: &Tensor, _train: bool) -> Result<Tensor> {
        let size = expect_rank(tokens, 2, "text_transformer input")?;
        if tokens.kind() != Kind::Int64 {
            return Err(Error::shape(format!("text_transformer expects i64 token ids, got {:?}", tokens.kind())));
        }
        let (b, l) = (size[0], size[1]);
        if l > self.cfg.context_length {
            return Err(Error::shape(format!("sequence length {l} exceeds context_length {}", self.cfg.context_length)));
        }
        let max_id = tokens.max().int64_value(&[]);
        if max_id >= self.cfg.vocab_size || tokens.min().int64_value(&[]) < 0 {
            return Err(Error::shape(format!(
                "token id {max_id} is outside the vocabulary of {} (set text.vocab_size to the tokenizer's vocab_size)",
                self.cfg.vocab_size
            )));
        }
        let x = Tensor::embedding(&self.token_embedding, tokens, -1, false, false) // [B, L, W]
            + self.positional_embedding.narrow(0, 0, l);
        let x = self.ln_final.forward(&self.transformer.forward(&x, true)?); // [B, L, W]
        let eot = tokens.argmax(-1, false); // [B]
        let pooled = x.index(&[Some(Tensor::arange(b, (Kind::Int64, x.device()))), Some(eot)]); // [B, W]
        Ok(pooled.matmul(&self.text_projection)) // [B, output_dim]
    }

    fn replica(&self) -> Option<Box<dyn Encoder + Send>> {
        Some(Box::new(Self {
            token_embedding: self.token_embedding.shallow_clone(),
            positional_embedding: self.positional_embedding.shallow_clone(),
            transformer: self.transformer.replica(),
            ln_final: self.ln_final.replica(),
            text_projection: self.text_projection.shallow_clone(),
            cfg: self.cfg.clone(),
        }))
    }
}
