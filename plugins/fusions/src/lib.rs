//! Fusions for plexus: they combine per-modality features `[B, D_m]` (any subset of the
//! configured modalities, with a presence mask per example) into one `[B, D]`; and a
//! classification loss on the fused features.
mod attention;
mod classification;
mod common;
mod cross_attention;
mod early;
mod gated;
mod late;
mod multimodal_transformer;
mod project;

pub use classification::{FusedClassification, FusedClassificationConfig};
pub use common::ModalityDims;
pub use cross_attention::{CrossAttentionConfig, CrossAttentionFusion};
pub use early::{EarlyConfig, EarlyFusion};
pub use gated::{GatedConfig, GatedFusion};
pub use late::{LateConfig, LateFusion};
pub use multimodal_transformer::{MultimodalTransformer, MultimodalTransformerConfig};

use plexus_plugin::{Registrar, Result};

/// Registers every fusion (public so tests can build them through the registrar).
pub fn register(r: &mut Registrar) -> Result<()> {
    r.fusion("early", "Concatenate features and presence bits, then project", |p, cfg: &EarlyConfig| EarlyFusion::new(p, cfg));
    r.fusion("late", "Weighted sum of per-modality outputs, weights renormalised over present modalities", |p, cfg: &LateConfig| {
        LateFusion::new(p, cfg)
    });
    r.fusion("gated", "Per-example softmax gate over the present modalities", |p, cfg: &GatedConfig| GatedFusion::new(p, cfg));
    r.fusion("cross_attention", "One modality attends to the others (masked by presence)", |p, cfg: &CrossAttentionConfig| {
        CrossAttentionFusion::new(p, cfg)
    });
    r.fusion(
        "multimodal_transformer",
        "Transformer over one token per modality with modality embeddings and a key-padding mask",
        |p, cfg: &MultimodalTransformerConfig| MultimodalTransformer::new(p, cfg),
    );
    r.loss(
        "fused_classification",
        "Cross-entropy of a linear classifier on fused_embeds against labels",
        |p, cfg: &FusedClassificationConfig| FusedClassification::new(p, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);
