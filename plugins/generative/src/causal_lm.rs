//! A small decoder-only language model conditioned on a prefix of embeddings (e.g. image
//! tokens from `mlp_projector`, as in LLaVA), with greedy generation. The transformer is
//! `plexus-nn`'s pre-norm stack with a causal mask over prefix + tokens.
use plexus_nn::{LayerNorm, Transformer, TransformerConfig};
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{self, nn, nn::Module as _, Device, Kind, Tensor};
use plexus_plugin::{Error, Module, Result, TensorMap};

use crate::inputs::{check_float, count_input, token_input};

const WHO: &str = "causal_lm";

/// Config of `causal_lm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct CausalLmConfig {
    pub vocab_size: i64,
    /// Positions available to prefix + tokens (+ generated tokens).
    pub context_length: i64,
    pub width: i64,
    pub layers: i64,
    pub heads: i64,
    pub mlp_ratio: f64,
    /// Width of the `prefix` input; it is projected linearly to `width`. `null`: the prefix
    /// must already be `[B, P, width]` and is used as is.
    pub prefix_dim: Option<i64>,
}

impl Default for CausalLmConfig {
    fn default() -> Self {
        Self { vocab_size: 32, context_length: 32, width: 32, layers: 2, heads: 4, mlp_ratio: 4.0, prefix_dim: None }
    }
}

/// Inputs: `tokens` `[B, L]` integer ids (`L >= 1`); optional `prefix` `[B, P, prefix_dim]`
/// float embeddings placed before the tokens; optional `max_new_tokens` (a single number
/// T) switching to generation. Outputs: `logits` `[B, L, vocab_size]` (position `t`
/// predicts token `t + 1`; prefix positions excluded), or with `max_new_tokens`,
/// `generated` `[B, T]` i64: the greedy continuation of prefix + tokens. Requires
/// `P + L (+ T - 1) <= context_length`.
#[derive(Debug)]
pub struct CausalLm {
    token_embedding: nn::Embedding,
    positional_embedding: Tensor,
    prefix_proj: Option<nn::Linear>,
    transformer: Transformer,
    ln_final: LayerNorm,
    lm_head: nn::Linear,
    cfg: CausalLmConfig,
}

impl CausalLm {
    pub fn new(p: &nn::Path, cfg: &CausalLmConfig) -> Result<Self> {
        for (key, value) in [("vocab_size", cfg.vocab_size), ("context_length", cfg.context_length), ("width", cfg.width)] {
            if value < 1 {
                return Err(Error::other(format!("{WHO}: `{key}` must be >= 1, got {value}")));
            }
        }
        if cfg.layers < 0 || cfg.mlp_ratio <= 0.0 || cfg.prefix_dim.is_some_and(|d| d < 1) {
            return Err(Error::other(format!("{WHO}: need layers >= 0, mlp_ratio > 0 and prefix_dim >= 1 (or null), got {cfg:?}")));
        }
        let tcfg = TransformerConfig { width: cfg.width, layers: cfg.layers, heads: cfg.heads, mlp_ratio: cfg.mlp_ratio };
        let transformer = Transformer::new(p / "transformer", &tcfg).map_err(|e| Error::other(format!("{WHO}: {e}")))?;
        Ok(Self {
            token_embedding: nn::embedding(p / "token_embedding", cfg.vocab_size, cfg.width, Default::default()),
            positional_embedding: p.randn("positional_embedding", &[cfg.context_length, cfg.width], 0.0, 0.01),
            prefix_proj: cfg.prefix_dim.map(|d| nn::linear(p / "prefix_proj", d, cfg.width, Default::default())),
            transformer,
            ln_final: LayerNorm::new(p / "ln_final", cfg.width),
            lm_head: nn::linear(p / "lm_head", cfg.width, cfg.vocab_size, nn::LinearConfig { bias: false, ..Default::default() }),
            cfg: cfg.clone(),
        })
    }

    /// The prefix projected to `[B, P, width]`, checked against the tokens' batch.
    fn prefix(&self, inputs: &TensorMap, batch: i64) -> Result<Option<Tensor>> {
        let Some(prefix) = inputs.get_opt("prefix") else { return Ok(None) };
        let dim = self.cfg.prefix_dim.unwrap_or(self.cfg.width);
        check_float(prefix, "prefix", &[3], dim, WHO, "[B, P, prefix_dim]")?;
        if prefix.size()[0] != batch {
            return Err(Error::shape(format!("{WHO}: `prefix` has batch {} but `tokens` has {batch}", prefix.size()[0])));
        }
        Ok(Some(match &self.prefix_proj {
            Some(proj) => proj.forward(prefix), // [B, P, W]
            None => prefix.shallow_clone(),
        }))
    }

    /// prefix `[B, P, W]`, tokens `[B, L]` → logits `[B, L, V]` of the token positions.
    fn logits(&self, prefix: Option<&Tensor>, tokens: &Tensor) -> Result<Tensor> {
        let p = prefix.map_or(0, |t| t.size()[1]);
        let l = tokens.size()[1];
        if p + l > self.cfg.context_length {
            return Err(Error::shape(format!("{WHO}: prefix ({p}) + tokens ({l}) exceed context_length {}", self.cfg.context_length)));
        }
        let embedded = self.token_embedding.forward(tokens); // [B, L, W]
        let x = match prefix {
            Some(prefix) => Tensor::cat(&[prefix.to_kind(embedded.kind()), embedded], 1), // [B, P+L, W]
            None => embedded,
        };
        let x = x + self.positional_embedding.narrow(0, 0, p + l); // [B, P+L, W]
        let x = self.ln_final.forward(&self.transformer.forward(&x, true)?); // [B, P+L, W]
        Ok(self.lm_head.forward(&x.narrow(1, p, l))) // [B, L, V]
    }

    /// Greedy decoding: appends the arg-max next token `steps` times → `[B, steps]` i64.
    fn generate(&self, prefix: Option<&Tensor>, tokens: &Tensor, steps: i64) -> Result<Tensor> {
        let (p, l) = (prefix.map_or(0, |t| t.size()[1]), tokens.size()[1]);
        if p + l + steps - 1 > self.cfg.context_length {
            return Err(Error::shape(format!(
                "{WHO}: prefix ({p}) + tokens ({l}) + max_new_tokens ({steps}) - 1 exceed context_length {}",
                self.cfg.context_length
            )));
        }
        let _no_grad = tch::no_grad_guard();
        let mut sequence = tokens.shallow_clone(); // [B, L + i]
        let batch = tokens.size()[0];
        for _ in 0..steps {
            let logits = self.logits(prefix, &sequence)?; // [B, L + i, V]
            let next = logits.select(1, -1).argmax(-1, true); // [B, 1]
            sequence = Tensor::cat(&[sequence, next], 1);
        }
        Ok(if steps == 0 { Tensor::zeros([batch, 0], (Kind::Int64, tokens.device())) } else { sequence.narrow(1, l, steps) })
    }
}

impl Module for CausalLm {
    fn forward(&self, inputs: &TensorMap, _train: bool) -> Result<TensorMap> {
        let tokens = token_input(inputs, "tokens", self.cfg.vocab_size, WHO)?; // [B, L]
        let prefix = self.prefix(inputs, tokens.size()[0])?; // [B, P, W]
        match count_input(inputs, "max_new_tokens", self.cfg.context_length, WHO)? {
            Some(steps) => Ok(TensorMap::new().with("generated", &self.generate(prefix.as_ref(), &tokens, steps)?)),
            None => Ok(TensorMap::new().with("logits", &self.logits(prefix.as_ref(), &tokens)?)),
        }
    }

    fn example_inputs(&self) -> Option<TensorMap> {
        let length = (self.cfg.context_length / 2).clamp(1, 5);
        let tokens = Tensor::randint(self.cfg.vocab_size, [2, length], (Kind::Int64, Device::Cpu));
        let prefix_len = (self.cfg.context_length - length).min(3);
        let mut inputs = TensorMap::new().with("tokens", &tokens);
        if prefix_len > 0 {
            let dim = self.cfg.prefix_dim.unwrap_or(self.cfg.width);
            inputs.insert("prefix", &Tensor::randn([2, prefix_len, dim], (Kind::Float, Device::Cpu)));
        }
        Some(inputs)
    }
}
