//! Video tokens for multimodal transformers: a VQ-VAE video tokenizer (3D-conv encoder,
//! codebook with straight-through estimator and dead-code restarts, decoder) and
//! VideoBERT's joint text-video transformer over its codes.
mod tokenizer;
mod videobert;

pub use tokenizer::{VqVideoTokenizer, VqVideoTokenizerConfig};
pub use videobert::{VideoBert, VideoBertConfig};

use plexus_plugin::{Registrar, Result};

/// Registers every module (public so tests can build them through the registrar).
pub fn register(r: &mut Registrar) -> Result<()> {
    r.module(
        "vq_video_tokenizer",
        "VQ-VAE video tokenizer: video [B, T, C, H, W] → reconstruction [B, T, C, H, W], codes [B, T', H', W'], \
         latents, and per-batch vq_loss / code_usage / perplexity repeated as [B]; dead codes restart from encoder outputs",
        |p, cfg: &VqVideoTokenizerConfig| VqVideoTokenizer::new(p, cfg),
    );
    r.module(
        "videobert",
        "VideoBERT joint transformer over [CLS] text [SEP] video ids with segment embeddings: text [B, Lt], video [B, Lv] \
         (+ optional text_mask / video_mask) → text_logits, video_logits (masked modelling), match_logits [B, 2] (alignment)",
        |p, cfg: &VideoBertConfig| VideoBert::new(p, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);
