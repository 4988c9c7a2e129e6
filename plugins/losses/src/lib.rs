//! Training objectives for plexus. Each loss documents the named inputs it reads and
//! their shapes on its `compute`.
mod audioclip;
mod clip;
mod common;
mod ctc;
mod diffusion_mse;
mod itm;
mod lm_cross_entropy;
mod siglip;

use plexus_plugin::{Registrar, Result};

fn register(r: &mut Registrar) -> Result<()> {
    r.loss(
        "clip",
        "Symmetric InfoNCE over image/text pairs with a learnable logit scale, clamped to ln(100) as in CLIP",
        |path, cfg: &clip::ClipLossConfig| clip::ClipLoss::new(path, cfg),
    );
    r.loss(
        "siglip",
        "Pairwise sigmoid loss over image/text pairs with learnable scale and bias (SigLIP init t = 10, b = -10)",
        |path, cfg: &siglip::SiglipLossConfig| siglip::SiglipLoss::new(path, cfg),
    );
    r.loss(
        "audioclip",
        "InfoNCE in both directions between every present pair of image/text/audio embeddings, averaged",
        |path, cfg: &audioclip::AudioClipLossConfig| audioclip::AudioClipLoss::new(path, cfg),
    );
    r.loss(
        "itm",
        "Image-text matching: a pair head trained on matching pairs vs similarity-sampled hard negatives",
        |path, cfg: &itm::ItmLossConfig| itm::ItmLoss::new(path, cfg),
    );
    r.loss(
        "lm_cross_entropy",
        "Token-level cross-entropy over logits [B, L, V] with padding skipped and optional label smoothing",
        |path, cfg: &lm_cross_entropy::LmCrossEntropyConfig| lm_cross_entropy::LmCrossEntropy::new(path, cfg),
    );
    r.loss(
        "vq",
        "VQ-VAE codebook + beta * commitment loss over latents [..., code_dim]; logs perplexity and code usage",
        |path, cfg: &VqLossConfig| VectorQuantizer::new(path, cfg),
    );
    r.loss(
        "ctc",
        "Connectionist temporal classification over logits [B, T, C] with input and target lengths",
        |path, cfg: &ctc::CtcLossConfig| ctc::CtcLoss::new(path, cfg),
    );
    r.loss(
        "diffusion_mse",
        "Noise-prediction MSE for diffusion models, optionally weighted per example or per timestep",
        |path, cfg: &diffusion_mse::DiffusionMseConfig| diffusion_mse::DiffusionMse::new(path, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);

pub use audioclip::{AudioClipLoss, AudioClipLossConfig};
pub use clip::{ClipLoss, ClipLossConfig};
pub use ctc::{CtcLoss, CtcLossConfig};
pub use diffusion_mse::{DiffusionMse, DiffusionMseConfig};
pub use itm::{ItmLoss, ItmLossConfig};
pub use lm_cross_entropy::{LmCrossEntropy, LmCrossEntropyConfig};
pub use siglip::{SiglipLoss, SiglipLossConfig};
pub use plexus_nn::{Quantized, VectorQuantizer, VqLossConfig};
