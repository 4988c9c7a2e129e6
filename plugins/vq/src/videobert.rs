//! VideoBERT (Sun et al. 2019): one bidirectional transformer over a caption's word ids
//! and a clip's VQ code ids in a joint vocabulary, `[CLS] text [SEP] video`, with segment
//! embeddings, trained by masked-token modelling over both and a video-text alignment head
//! on `[CLS]` (is this caption paired with this clip?), which also ranks clips for a
//! caption (text→video retrieval).
use plexus_nn::{LayerNorm, Transformer, TransformerConfig};
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module as _, Device, Kind, Tensor};
use plexus_plugin::{Error, Module, Result, TensorMap};

const WHO: &str = "videobert";

/// Config of `videobert`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct VideoBertConfig {
    /// Size of the text tokenizer's vocabulary (its ids are the joint ids `[0, text_vocab)`;
    /// 0 is padding).
    pub text_vocab: i64,
    /// Size of the video tokenizer's codebook (code c is joint id `text_vocab + c`).
    pub num_codes: i64,
    /// Longest text `L_t` and video `L_v` token sequences accepted.
    pub text_length: i64,
    pub video_length: i64,
    pub width: i64,
    pub layers: i64,
    pub heads: i64,
    pub mlp_ratio: f64,
}

impl Default for VideoBertConfig {
    fn default() -> Self {
        Self { text_vocab: 16, num_codes: 32, text_length: 8, video_length: 16, width: 32, layers: 2, heads: 4, mlp_ratio: 2.0 }
    }
}

/// Inputs: `text` `[B, L_t]` integer word ids in `[0, text_vocab)`; `video` `[B, L_v]`
/// integer code ids in `[0, num_codes)` (reshape a tokenizer's `[B, T', H', W']` codes);
/// optional `text_mask` `[B, L_t]` and `video_mask` `[B, L_v]` (non-zero: the token is
/// replaced by `[MASK]` before the transformer). Outputs: `text_logits`
/// `[B, L_t, text_vocab]` and `video_logits` `[B, L_v, num_codes]` (the joint head's
/// logits restricted to each segment's part of the vocabulary, for masked-token
/// cross-entropy), and `match_logits` `[B, 2]` (class 1 = the caption belongs to the clip).
/// Padding ids are embedded like other tokens (the transformer has no key mask).
#[derive(Debug)]
pub struct VideoBert {
    token_embedding: nn::Embedding,
    positional_embedding: Tensor,
    segment_embedding: nn::Embedding,
    transformer: Transformer,
    ln_final: LayerNorm,
    token_head: nn::Linear,
    match_head: nn::Linear,
    cfg: VideoBertConfig,
}

impl VideoBert {
    /// Joint ids of the special tokens, after the text vocabulary and the codebook.
    fn cls(&self) -> i64 {
        self.cfg.text_vocab + self.cfg.num_codes
    }

    pub fn new(p: &nn::Path, cfg: &VideoBertConfig) -> Result<Self> {
        for (key, value) in [
            ("text_vocab", cfg.text_vocab),
            ("num_codes", cfg.num_codes),
            ("text_length", cfg.text_length),
            ("video_length", cfg.video_length),
            ("width", cfg.width),
        ] {
            if value < 1 {
                return Err(Error::other(format!("{WHO}: `{key}` must be >= 1, got {value}")));
            }
        }
        if cfg.layers < 0 || cfg.mlp_ratio <= 0.0 {
            return Err(Error::other(format!("{WHO}: need layers >= 0 and mlp_ratio > 0, got {cfg:?}")));
        }
        let tcfg = TransformerConfig { width: cfg.width, layers: cfg.layers, heads: cfg.heads, mlp_ratio: cfg.mlp_ratio };
        let transformer = Transformer::new(p / "transformer", &tcfg).map_err(|e| Error::other(format!("{WHO}: {e}")))?;
        let vocab = cfg.text_vocab + cfg.num_codes + 3; // + [CLS], [SEP], [MASK]
        let context = cfg.text_length + cfg.video_length + 2;
        // BERT's N(0, 0.02) for all three embeddings, so that position and segment are
        // not drowned by unit-variance token vectors at the start of training
        let small = nn::EmbeddingConfig { ws_init: nn::Init::Randn { mean: 0.0, stdev: 0.02 }, ..Default::default() };
        Ok(Self {
            token_embedding: nn::embedding(p / "token_embedding", vocab, cfg.width, small),
            positional_embedding: p.randn("positional_embedding", &[context, cfg.width], 0.0, 0.02),
            segment_embedding: nn::embedding(p / "segment_embedding", 2, cfg.width, small),
            transformer,
            ln_final: LayerNorm::new(p / "ln_final", cfg.width),
            token_head: nn::linear(p / "token_head", cfg.width, vocab, Default::default()),
            match_head: nn::linear(p / "match_head", cfg.width, 2, Default::default()),
            cfg: cfg.clone(),
        })
    }

    /// `inputs[name]` as `[B, L]` i64 ids in `[0, vocab)` with `L <= max_len`.
    fn ids(inputs: &TensorMap, name: &str, vocab: i64, max_len: i64) -> Result<Tensor> {
        let t = inputs.get(name)?;
        let size = t.size();
        if size.len() != 2 || size.contains(&0) || size[1] > max_len || t.is_floating_point() || t.kind() == Kind::Bool {
            return Err(Error::shape(format!("{WHO}: `{name}` must be non-empty [B, L <= {max_len}] integer ids, got {:?} {size:?}", t.kind())));
        }
        let (lo, hi) = (t.min().int64_value(&[]), t.max().int64_value(&[]));
        if lo < 0 || hi >= vocab {
            return Err(Error::shape(format!("{WHO}: `{name}` holds ids in [{lo}, {hi}], outside [0, {vocab})")));
        }
        Ok(t.to_kind(Kind::Int64))
    }

    /// `ids` with the positions where the optional `inputs[name]` is non-zero set to [MASK].
    fn masked(&self, inputs: &TensorMap, name: &str, ids: Tensor) -> Result<Tensor> {
        let Some(mask) = inputs.get_opt(name) else { return Ok(ids) };
        if mask.size() != ids.size() {
            return Err(Error::shape(format!("{WHO}: `{name}` {:?} must have the shape of its tokens {:?}", mask.size(), ids.size())));
        }
        let mask_id = Tensor::from(self.cls() + 2).to_device(ids.device());
        Ok(ids.where_self(&mask.eq(0), &mask_id))
    }
}

impl Module for VideoBert {
    fn forward(&self, inputs: &TensorMap, _train: bool) -> Result<TensorMap> {
        let text = Self::ids(inputs, "text", self.cfg.text_vocab, self.cfg.text_length)?; // [B, Lt]
        let video = Self::ids(inputs, "video", self.cfg.num_codes, self.cfg.video_length)?; // [B, Lv]
        let (b, lt, lv) = (text.size()[0], text.size()[1], video.size()[1]);
        if video.size()[0] != b {
            return Err(Error::shape(format!("{WHO}: `video` has batch {} but `text` has {b}", video.size()[0])));
        }
        let text = self.masked(inputs, "text_mask", text)?;
        let video = self.masked(inputs, "video_mask", video + self.cfg.text_vocab)?; // joint ids
        let device = text.device();
        let special = |id: i64| Tensor::full([b, 1], id, (Kind::Int64, device));
        let ids = Tensor::cat(&[special(self.cls()), text, special(self.cls() + 1), video], 1); // [B, L], L = Lt + Lv + 2
        let l = lt + lv + 2;
        let segments = Tensor::cat(&[Tensor::zeros([lt + 2], (Kind::Int64, device)), Tensor::ones([lv], (Kind::Int64, device))], 0); // [L]
        let x = self.token_embedding.forward(&ids) + self.positional_embedding.narrow(0, 0, l) + self.segment_embedding.forward(&segments); // [B, L, W]
        let x = self.ln_final.forward(&self.transformer.forward(&x, false)?); // [B, L, W]
        let logits = self.token_head.forward(&x); // [B, L, V]
        Ok(TensorMap::new()
            .with("text_logits", &logits.narrow(1, 1, lt).narrow(2, 0, self.cfg.text_vocab)) // [B, Lt, text_vocab]
            .with("video_logits", &logits.narrow(1, lt + 2, lv).narrow(2, self.cfg.text_vocab, self.cfg.num_codes)) // [B, Lv, K]
            .with("match_logits", &self.match_head.forward(&x.select(1, 0)))) // [B, 2]
    }

    fn example_inputs(&self) -> Option<TensorMap> {
        let (lt, lv) = (self.cfg.text_length.min(5), self.cfg.video_length.min(6));
        let cpu = (Kind::Int64, Device::Cpu);
        Some(
            TensorMap::new()
                .with("text", &Tensor::randint(self.cfg.text_vocab, [2, lt], cpu))
                .with("video", &Tensor::randint(self.cfg.num_codes, [2, lv], cpu))
                .with("text_mask", &Tensor::randint(2, [2, lt], cpu))
                .with("video_mask", &Tensor::randint(2, [2, lv], cpu)),
        )
    }
}
