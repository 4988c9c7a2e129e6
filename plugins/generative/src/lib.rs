//! Generic modules ([`plexus_plugin::Module`]) for the survey's generative systems: a
//! LLaVA-style projector from encoder features to language-model tokens, and a small
//! decoder-only language model conditioned on a prefix of embeddings, with greedy
//! generation, and BLIP's image-text matching head with hard-negative mining.
mod causal_lm;
mod inputs;
mod itm_head;
mod projector;

pub use causal_lm::{CausalLm, CausalLmConfig};
pub use itm_head::{ItmHead, ItmHeadConfig};
pub use projector::{MlpProjector, MlpProjectorConfig};

use plexus_plugin::{Registrar, Result};

/// Registers every module (public so tests can build them through the registrar).
pub fn register(r: &mut Registrar) -> Result<()> {
    r.module(
        "mlp_projector",
        "LLaVA projector: features [B, N, in_dim] (or [B, in_dim]) → tokens [B, N, out_dim] by Linear-GELU-Linear",
        |p, cfg: &MlpProjectorConfig| MlpProjector::new(p, cfg),
    );
    r.module(
        "causal_lm",
        "Decoder-only transformer: tokens [B, L] (+ optional prefix [B, P, prefix_dim]) → logits [B, L, vocab]; \
         with input max_new_tokens → greedy generated [B, T]",
        |p, cfg: &CausalLmConfig| CausalLm::new(p, cfg),
    );
    r.module(
        "itm_head",
        "BLIP image-text matching head: tokens [B, L] + image [B, (P,) image_dim] → logits [B, 2], match_prob [B]; \
         with ITC image_embeds/text_embeds [B, E] → logits [B, 3, 2] and targets [B, 3] over hard negatives mined from their similarities",
        |p, cfg: &ItmHeadConfig| ItmHead::new(p, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);
