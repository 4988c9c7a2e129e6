//! BERT-family text encoder (BERT, MiniLM, ...) with Hugging Face parameter names
//! (`embeddings.word_embeddings.weight`, `encoder.layer.{i}.attention.self.query`, ...),
//! so a `model.safetensors` loads as it is, and sentence-transformers' pooling on top.
//!
//! Padding is id 0 (`[PAD]` in BERT vocabularies, and the plexus tokenizer convention):
//! padded positions are masked out of attention and of the pooling.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Kind, Tensor};
use plexus_plugin::{Encoder, Error, Modality, Result};

use crate::bert_load;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", rename_all = "snake_case")]
pub enum Pooling {
    /// Average of the last hidden states over non-padding tokens (sentence-transformers'
    /// `pooling_mode_mean_tokens`).
    Mean,
    /// The first token's (`[CLS]`) last hidden state.
    Cls,
}

/// With `path`, the architecture comes from the folder's `config.json`; an architecture
/// field set here to a non-default value must agree with it. Without `path`, the fields
/// describe a randomly initialised model (defaults: BERT-tiny, 2 layers of width 128).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct BertConfig {
    /// A folder with Hugging Face `config.json` and `model.safetensors` (e.g. the
    /// all-MiniLM-L6-v2 folder of a sentence-transformers model). Empty: random weights.
    pub path: String,
    pub pooling: Pooling,
    /// L2-normalise the pooled embedding (sentence-transformers' `Normalize` module, the
    /// last module of all-MiniLM-L6-v2).
    pub normalize: bool,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub max_position_embeddings: i64,
    pub type_vocab_size: i64,
    pub layer_norm_eps: f64,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
}

impl Default for BertConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            pooling: Pooling::Mean,
            normalize: false,
            vocab_size: 30522,
            hidden_size: 128,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 512,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
        }
    }
}

#[derive(Debug)]
struct Layer {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    attention_out: nn::Linear,
    attention_norm: nn::LayerNorm,
    intermediate: nn::Linear,
    output: nn::Linear,
    output_norm: nn::LayerNorm,
}

#[derive(Debug)]
pub struct Bert {
    word_embeddings: nn::Embedding,
    position_embeddings: nn::Embedding,
    token_type_embeddings: nn::Embedding,
    embeddings_norm: nn::LayerNorm,
    layers: Vec<Layer>,
    cfg: BertConfig,
}

impl Bert {
    pub fn new(p: &nn::Path, given: &BertConfig) -> Result<Self> {
        let cfg = if given.path.is_empty() { given.clone() } else { bert_load::config_from_folder(given)? };
        let (h, heads) = (cfg.hidden_size, cfg.num_attention_heads);
        if h <= 0 || heads <= 0 || h % heads != 0 {
            return Err(Error::other(format!("bert: hidden_size {h} must be a positive multiple of num_attention_heads {heads}")));
        }
        let ln = nn::LayerNormConfig { eps: cfg.layer_norm_eps, ..Default::default() };
        let e = p / "embeddings";
        let layer = |i: i64| {
            let l = p / "encoder" / "layer" / i;
            let (att, out) = (&l / "attention", &l / "output");
            Layer {
                query: nn::linear(&att / "self" / "query", h, h, Default::default()),
                key: nn::linear(&att / "self" / "key", h, h, Default::default()),
                value: nn::linear(&att / "self" / "value", h, h, Default::default()),
                attention_out: nn::linear(&att / "output" / "dense", h, h, Default::default()),
                attention_norm: nn::layer_norm(&att / "output" / "LayerNorm", vec![h], ln),
                intermediate: nn::linear(&l / "intermediate" / "dense", h, cfg.intermediate_size, Default::default()),
                output: nn::linear(&out / "dense", cfg.intermediate_size, h, Default::default()),
                output_norm: nn::layer_norm(&out / "LayerNorm", vec![h], ln),
            }
        };
        let init = nn::EmbeddingConfig { ws_init: nn::Init::Randn { mean: 0.0, stdev: 0.02 }, ..Default::default() };
        let bert = Self {
            word_embeddings: nn::embedding(&e / "word_embeddings", cfg.vocab_size, h, init),
            position_embeddings: nn::embedding(&e / "position_embeddings", cfg.max_position_embeddings, h, init),
            token_type_embeddings: nn::embedding(&e / "token_type_embeddings", cfg.type_vocab_size, h, init),
            embeddings_norm: nn::layer_norm(&e / "LayerNorm", vec![h], ln),
            layers: (0..cfg.num_hidden_layers).map(layer).collect(),
            cfg,
        };
        if !given.path.is_empty() {
            bert_load::load_weights(&bert.named_parameters(), &given.path)?;
        }
        Ok(bert)
    }

    /// Every parameter with its Hugging Face name (relative to the model).
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        let mut linear = |name: String, l: &nn::Linear| {
            out.push((format!("{name}.weight"), l.ws.shallow_clone()));
            out.extend(l.bs.as_ref().map(|b| (format!("{name}.bias"), b.shallow_clone())));
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let at = format!("encoder.layer.{i}");
            linear(format!("{at}.attention.self.query"), &layer.query);
            linear(format!("{at}.attention.self.key"), &layer.key);
            linear(format!("{at}.attention.self.value"), &layer.value);
            linear(format!("{at}.attention.output.dense"), &layer.attention_out);
            linear(format!("{at}.intermediate.dense"), &layer.intermediate);
            linear(format!("{at}.output.dense"), &layer.output);
        }
        let mut norms = vec![("embeddings.LayerNorm".to_string(), &self.embeddings_norm)];
        for (i, layer) in self.layers.iter().enumerate() {
            norms.push((format!("encoder.layer.{i}.attention.output.LayerNorm"), &layer.attention_norm));
            norms.push((format!("encoder.layer.{i}.output.LayerNorm"), &layer.output_norm));
        }
        for (name, norm) in norms {
            out.extend(norm.ws.as_ref().map(|w| (format!("{name}.weight"), w.shallow_clone())));
            out.extend(norm.bs.as_ref().map(|b| (format!("{name}.bias"), b.shallow_clone())));
        }
        for (name, e) in [
            ("word_embeddings", &self.word_embeddings),
            ("position_embeddings", &self.position_embeddings),
            ("token_type_embeddings", &self.token_type_embeddings),
        ] {
            out.push((format!("embeddings.{name}.weight"), e.ws.shallow_clone()));
        }
        out
    }

    /// x `[B, L, H]`, additive mask `[B, 1, 1, L]` → `[B, L, H]`.
    fn layer_forward(&self, layer: &Layer, x: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let size = x.size();
        let (b, l, h) = (size[0], size[1], size[2]);
        let heads = self.cfg.num_attention_heads;
        let split = |t: Tensor| t.view([b, l, heads, h / heads]).transpose(1, 2); // [B, heads, L, H/heads]
        let dropout = if train { self.cfg.attention_probs_dropout_prob } else { 0.0 };
        let context = Tensor::scaled_dot_product_attention(
            &split(layer.query.forward(x)),
            &split(layer.key.forward(x)),
            &split(layer.value.forward(x)),
            Some(mask),
            dropout,
            false,
            None,
            false,
        ) // [B, heads, L, H/heads]
        .transpose(1, 2)
        .reshape([b, l, h]);
        let p = self.cfg.hidden_dropout_prob;
        let attended = layer.attention_norm.forward(&(layer.attention_out.forward(&context).dropout(p, train) + x));
        let inner = layer.intermediate.forward(&attended).gelu("none"); // [B, L, intermediate]
        layer.output_norm.forward(&(layer.output.forward(&inner).dropout(p, train) + attended))
    }
}

impl Encoder for Bert {
    fn modality(&self) -> Modality {
        Modality::Text
    }

    fn output_dim(&self) -> i64 {
        self.cfg.hidden_size
    }

    /// tokens `[B, L]` i64 (0 = padding, L ≤ max_position_embeddings) → `[B, hidden_size]`.
    fn encode(&self, tokens: &Tensor, train: bool) -> Result<Tensor> {
        let size = plexus_nn::expect_rank(tokens, 2, "bert input")?;
        if tokens.kind() != Kind::Int64 {
            return Err(Error::shape(format!("bert expects i64 token ids, got {:?}", tokens.kind())));
        }
        let (b, l) = (size[0], size[1]);
        if l > self.cfg.max_position_embeddings {
            return Err(Error::shape(format!("bert: sequence length {l} exceeds max_position_embeddings {}", self.cfg.max_position_embeddings)));
        }
        if b * l > 0 {
            let (lo, hi) = (tokens.min().int64_value(&[]), tokens.max().int64_value(&[]));
            if lo < 0 || hi >= self.cfg.vocab_size {
                return Err(Error::shape(format!("bert: token id {} is outside the vocabulary of {}", if lo < 0 { lo } else { hi }, self.cfg.vocab_size)));
            }
        }
        let device = tokens.device();
        let keep = tokens.ne(0).to_kind(Kind::Float); // [B, L], 1 for real tokens
        let positions = Tensor::arange(l, (Kind::Int64, device)).unsqueeze(0); // [1, L]
        // Single-sentence input: every token has type 0.
        let types = Tensor::zeros([1, l], (Kind::Int64, device));
        let x = self.word_embeddings.forward(tokens)
            + self.position_embeddings.forward(&positions)
            + self.token_type_embeddings.forward(&types); // [B, L, H]
        let mut x = self.embeddings_norm.forward(&x).dropout(self.cfg.hidden_dropout_prob, train);
        // Additive mask as transformers builds it: 0 where attended, the dtype's minimum at
        // padding (finite, so an all-padding row stays finite).
        let mask = ((-&keep + 1.0) * f64::from(f32::MIN)).view([b, 1, 1, l]); // [B, 1, 1, L]
        for layer in &self.layers {
            x = self.layer_forward(layer, &x, &mask, train);
        }
        let pooled = match self.cfg.pooling {
            Pooling::Mean => {
                // sentence-transformers: sum over real tokens / max(count, 1e-9).
                let summed = (&x * keep.unsqueeze(-1)).sum_dim_intlist([1i64].as_slice(), false, Kind::Float); // [B, H]
                summed / keep.sum_dim_intlist([1i64].as_slice(), true, Kind::Float).clamp_min(1e-9)
            }
            Pooling::Cls => x.select(1, 0), // [B, H]
        };
        if self.cfg.normalize {
            // torch.nn.functional.normalize: x / max(‖x‖₂, 1e-12).
            let norm = pooled.norm_scalaropt_dim(2, [-1i64].as_slice(), true).clamp_min(1e-12);
            return Ok(pooled / norm);
        }
        Ok(pooled)
    }
}
