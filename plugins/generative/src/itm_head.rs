//! BLIP's image-text matching head (Li et al. 2022): an image-grounded text encoder that
//! reads a caption together with image tokens and says whether they match, trained on the
//! matching pairs and on hard negatives drawn from the contrastive (ITC) similarities.
//!
//! BLIP inserts cross-attention layers into its text encoder; here the image tokens are
//! prepended to the caption's tokens and one bidirectional transformer attends over both
//! (every caption token sees every image token, as cross-attention would let it), and the
//! first caption position (the tokenizer's start token, BLIP's `[ENC]`) is classified.
use plexus_nn::{LayerNorm, Transformer, TransformerConfig};
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{self, nn, nn::Module as _, Device, Kind, Tensor};
use plexus_plugin::{Error, Module, Result, TensorMap};

use crate::inputs::{check_float, token_input};

const WHO: &str = "itm_head";

/// Config of `itm_head`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct ItmHeadConfig {
    pub vocab_size: i64,
    /// Caption positions (the tokenizer's context length, or more).
    pub context_length: i64,
    /// Width of the `image` input (e.g. the vision encoder's output_dim).
    pub image_dim: i64,
    pub width: i64,
    pub layers: i64,
    pub heads: i64,
    pub mlp_ratio: f64,
    /// Temperature of the similarity softmax hard negatives are drawn from (lower = harder).
    pub mining_temperature: f64,
}

impl Default for ItmHeadConfig {
    fn default() -> Self {
        Self { vocab_size: 32, context_length: 16, image_dim: 32, width: 32, layers: 1, heads: 4, mlp_ratio: 2.0, mining_temperature: 0.1 }
    }
}

/// Inputs: `tokens` `[B, L]` caption ids (`L <= context_length`), `image` `[B, image_dim]`
/// (one image token) or `[B, P, image_dim]`; optional `image_embeds` and `text_embeds`
/// `[B, E]` (the ITC embeddings of the same pairs) to mine hard negatives from.
///
/// Without the ITC embeddings: `logits` `[B, 2]` ({no match, match}) of the pairs (image
/// b, caption b), and `match_prob` `[B]`, the match probability (`match` is reserved in Rhai).
///
/// With them (training): for every image one negative caption and for every caption one
/// negative image, drawn in proportion to `softmax(cos(image_i, text_j) / T)` (in eval
/// mode: the most similar one), never the pair itself nor a caption whose ids equal the
/// positive's (identical captions are not negatives). Outputs `logits` `[B, 3, 2]` for
/// (positive, image + negative caption, negative image + caption) and `targets` `[B, 3]`
/// i64 = (1, 0, 0), ready for `cross_entropy(logits.reshape([-1, 2]), targets.reshape([-1]))`.
#[derive(Debug)]
pub struct ItmHead {
    token_embedding: nn::Embedding,
    positional_embedding: Tensor,
    image_proj: nn::Linear,
    /// Marks image positions apart from caption positions (BLIP's modality of the keys).
    image_type: Tensor,
    transformer: Transformer,
    ln_final: LayerNorm,
    head: nn::Linear,
    cfg: ItmHeadConfig,
}

impl ItmHead {
    pub fn new(p: &nn::Path, cfg: &ItmHeadConfig) -> Result<Self> {
        for (key, value) in [("vocab_size", cfg.vocab_size), ("context_length", cfg.context_length), ("image_dim", cfg.image_dim), ("width", cfg.width)] {
            if value < 1 {
                return Err(Error::other(format!("{WHO}: `{key}` must be >= 1, got {value}")));
            }
        }
        if cfg.layers < 1 || cfg.mlp_ratio <= 0.0 || !(cfg.mining_temperature > 0.0) {
            return Err(Error::other(format!("{WHO}: need layers >= 1, mlp_ratio > 0 and mining_temperature > 0, got {cfg:?}")));
        }
        let tcfg = TransformerConfig { width: cfg.width, layers: cfg.layers, heads: cfg.heads, mlp_ratio: cfg.mlp_ratio };
        let transformer = Transformer::new(p / "transformer", &tcfg).map_err(|e| Error::other(format!("{WHO}: {e}")))?;
        Ok(Self {
            token_embedding: nn::embedding(p / "token_embedding", cfg.vocab_size, cfg.width, Default::default()),
            positional_embedding: p.randn("positional_embedding", &[cfg.context_length, cfg.width], 0.0, 0.01),
            image_proj: nn::linear(p / "image_proj", cfg.image_dim, cfg.width, Default::default()),
            image_type: p.randn("image_type", &[cfg.width], 0.0, 0.01),
            transformer,
            ln_final: LayerNorm::new(p / "ln_final", cfg.width),
            head: nn::linear(p / "head", cfg.width, 2, Default::default()),
            cfg: cfg.clone(),
        })
    }

    /// The `image` input as `[B, P, image_dim]`, checked against the captions' batch.
    fn image(&self, inputs: &TensorMap, batch: i64) -> Result<Tensor> {
        let image = inputs.get("image")?;
        check_float(image, "image", &[2, 3], self.cfg.image_dim, WHO, "[B, image_dim] or [B, P, image_dim]")?;
        if image.size()[0] != batch {
            return Err(Error::shape(format!("{WHO}: `image` has batch {} but `tokens` has {batch}", image.size()[0])));
        }
        Ok(if image.dim() == 2 { image.unsqueeze(1) } else { image.shallow_clone() })
    }

    /// image `[N, P, image_dim]`, tokens `[N, L]` → match logits `[N, 2]`.
    fn match_logits(&self, image: &Tensor, tokens: &Tensor) -> Result<Tensor> {
        let (p, l) = (image.size()[1], tokens.size()[1]);
        if l > self.cfg.context_length {
            return Err(Error::shape(format!("{WHO}: {l} caption tokens exceed context_length {}", self.cfg.context_length)));
        }
        let image = self.image_proj.forward(image) + &self.image_type; // [N, P, W]
        let text = self.token_embedding.forward(tokens) + self.positional_embedding.narrow(0, 0, l); // [N, L, W]
        let x = Tensor::cat(&[image.to_kind(text.kind()), text], 1); // [N, P+L, W]
        let x = self.transformer.forward(&x, false)?; // [N, P+L, W]
        Ok(self.head.forward(&self.ln_final.forward(&x.select(1, p)))) // [N, 2]
    }

    /// One negative column per row of `weights` `[B, B]` (zero = never drawn): sampled in
    /// training, the heaviest in eval mode; a row without weight draws uniformly among the
    /// other columns. → `[B]` i64.
    fn draw(weights: &Tensor, train: bool) -> Tensor {
        let b = weights.size()[0];
        let off_diagonal = Tensor::ones([b, b], (Kind::Float, weights.device())) - Tensor::eye(b, (Kind::Float, weights.device()));
        let empty = weights.sum_dim_intlist([1i64].as_slice(), true, Kind::Float).le(0.0).to_kind(Kind::Float); // [B, 1]
        let weights = weights + empty * off_diagonal; // [B, B]
        if train {
            weights.multinomial(1, false).squeeze_dim(1)
        } else {
            weights.argmax(1, false)
        }
    }

    /// Hard negatives from the ITC embeddings `[B, E]` → (negative caption per image,
    /// negative image per caption), both `[B]` i64.
    fn negatives(&self, image_embeds: &Tensor, text_embeds: &Tensor, tokens: &Tensor, train: bool) -> Result<(Tensor, Tensor)> {
        let b = tokens.size()[0];
        for (name, t) in [("image_embeds", image_embeds), ("text_embeds", text_embeds)] {
            if t.dim() != 2 || t.size()[0] != b || t.size()[1] != image_embeds.size()[1] || t.size()[1] == 0 || !t.is_floating_point() {
                return Err(Error::shape(format!(
                    "{WHO}: `{name}` must be a float [B, E] with B = {b} and the same E for images and texts, got {:?}",
                    t.size()
                )));
            }
        }
        if b < 2 {
            return Err(Error::shape(format!("{WHO}: mining hard negatives needs a batch of at least 2, got {b}")));
        }
        let _no_grad = tch::no_grad_guard();
        // Same ids in every position: the same caption, so not a negative (nor the pair itself).
        let same = tokens.unsqueeze(1).eq_tensor(&tokens.unsqueeze(0)).all_dim(2, false); // [B, B]
        let unit = |t: &Tensor| {
            let t = t.detach().to_kind(Kind::Float);
            &t / t.norm_scalaropt_dim(2.0, [1i64].as_slice(), true).clamp_min(1e-12) // [B, E]
        };
        let sims = unit(image_embeds).matmul(&unit(text_embeds).tr()) / self.cfg.mining_temperature; // [B, B]
        let i2t = sims.softmax(1, Kind::Float).masked_fill(&same, 0.0); // [B, B]
        let t2i = sims.tr().softmax(1, Kind::Float).masked_fill(&same, 0.0); // [B, B]
        Ok((Self::draw(&i2t, train), Self::draw(&t2i, train)))
    }
}

impl Module for ItmHead {
    fn forward(&self, inputs: &TensorMap, train: bool) -> Result<TensorMap> {
        let tokens = token_input(inputs, "tokens", self.cfg.vocab_size, WHO)?; // [B, L]
        let b = tokens.size()[0];
        let image = self.image(inputs, b)?; // [B, P, image_dim]
        let (Some(image_embeds), Some(text_embeds)) = (inputs.get_opt("image_embeds"), inputs.get_opt("text_embeds")) else {
            let logits = self.match_logits(&image, &tokens)?; // [B, 2]
            let matched = logits.softmax(1, Kind::Float).select(1, 1); // [B]
            return Ok(TensorMap::new().with("logits", &logits).with("match_prob", &matched));
        };
        let (negative_texts, negative_images) = self.negatives(image_embeds, text_embeds, &tokens, train)?; // [B], [B]
        let images = Tensor::cat(&[&image, &image, &image.index_select(0, &negative_images)], 0); // [3B, P, image_dim]
        let texts = Tensor::cat(&[&tokens, &tokens.index_select(0, &negative_texts), &tokens], 0); // [3B, L]
        let logits = self.match_logits(&images, &texts)?.view([3, b, 2]).transpose(0, 1).contiguous(); // [B, 3, 2]
        let targets = Tensor::from_slice(&[1i64, 0, 0]).to_device(tokens.device()).unsqueeze(0).repeat([b, 1]); // [B, 3]
        Ok(TensorMap::new().with("logits", &logits).with("targets", &targets))
    }

    fn example_inputs(&self) -> Option<TensorMap> {
        let length = self.cfg.context_length.min(5);
        let tokens = Tensor::randint(self.cfg.vocab_size, [2, length], (Kind::Int64, Device::Cpu));
        let image = Tensor::randn([2, self.cfg.image_dim], (Kind::Float, Device::Cpu));
        Some(TensorMap::new().with("tokens", &tokens).with("image", &image))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> (nn::VarStore, ItmHead) {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ItmHeadConfig { vocab_size: 10, context_length: 4, image_dim: 3, width: 8, heads: 2, ..Default::default() };
        let h = ItmHead::new(&vs.root(), &cfg).unwrap();
        (vs, h)
    }

    #[test]
    fn hardest_negatives_skip_the_pair_and_identical_captions() {
        let (_vs, h) = head();
        // Captions 0 and 1 are identical; image 0 is most similar to caption 1, then 2.
        let tokens = Tensor::from_slice2(&[[1i64, 4, 5], [1, 4, 5], [1, 6, 7]]);
        let sims = Tensor::from_slice2(&[[1.0f32, 0.9, 0.5], [0.2, 1.0, 0.1], [0.3, 0.8, 1.0]]);
        // Unit text axes: cos(image i, caption j) = sims[i][j] / |sims[i]|, same order per row and column here.
        let (neg_texts, neg_images) = h.negatives(&sims, &Tensor::eye(3, (Kind::Float, Device::Cpu)), &tokens, false).unwrap();
        assert_eq!(Vec::<i64>::try_from(&neg_texts).unwrap(), [2, 2, 1]);
        // Caption 2 (column 2: 0.5, 0.1, 1.0) draws image 0; captions 0 and 1 only image 2.
        assert_eq!(Vec::<i64>::try_from(&neg_images).unwrap(), [2, 2, 0]);
    }

    #[test]
    fn sampled_negatives_are_never_positives() {
        let (_vs, h) = head();
        let tokens = Tensor::from_slice2(&[[1i64, 4], [1, 4], [1, 5], [1, 6]]);
        let (images, texts) = (Tensor::randn([4, 5], (Kind::Float, Device::Cpu)), Tensor::randn([4, 5], (Kind::Float, Device::Cpu)));
        for _ in 0..50 {
            let (t, i) = h.negatives(&images, &texts, &tokens, true).unwrap();
            let (t, i) = (Vec::<i64>::try_from(&t).unwrap(), Vec::<i64>::try_from(&i).unwrap());
            for row in 0..4 {
                let same = |j: i64| j == row as i64 || (row < 2 && j < 2);
                assert!(!same(t[row]) && !same(i[row]), "row {row}: {t:?} {i:?}");
            }
        }
    }

    #[test]
    fn training_outputs_and_misshapen_embeddings_are_an_error() {
        let (_vs, h) = head();
        let tokens = Tensor::from_slice2(&[[1i64, 4], [1, 5], [1, 6]]);
        let image = Tensor::randn([3, 2, 3], (Kind::Float, Device::Cpu));
        let embeds = |n: i64| Tensor::randn([n, 4], (Kind::Float, Device::Cpu));
        let inputs = TensorMap::new().with("tokens", &tokens).with("image", &image).with("image_embeds", &embeds(3)).with("text_embeds", &embeds(3));
        let out = h.forward(&inputs, true).unwrap();
        assert_eq!(out.get("logits").unwrap().size(), [3, 3, 2]);
        assert_eq!(Vec::<i64>::try_from(out.get("targets").unwrap().reshape([-1])).unwrap(), [1, 0, 0, 1, 0, 0, 1, 0, 0]);
        let bad = TensorMap::new().with("tokens", &tokens).with("image", &image).with("image_embeds", &embeds(3)).with("text_embeds", &embeds(2));
        assert!(h.forward(&bad, true).unwrap_err().to_string().contains("text_embeds"));
    }
}
