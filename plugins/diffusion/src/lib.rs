//! DALL-E 2 / unCLIP (Ramesh et al. 2022) as generic modules: `diffusion_prior` turns a
//! CLIP text embedding into a CLIP image embedding, `unclip_decoder` turns a CLIP image
//! embedding into an image. Both train on their own denoising objective and sample with
//! DDIM and classifier-free guidance.
mod decoder;
mod inputs;
mod prior;
mod schedule;
mod unet;

pub use decoder::{UnclipDecoder, UnclipDecoderConfig};
pub use prior::{DiffusionPrior, DiffusionPriorConfig};
pub use schedule::{Prediction, ScheduleKind};

use plexus_plugin::{Registrar, Result};

/// Registers every module (public so tests can build them through the registrar).
pub fn register(r: &mut Registrar) -> Result<()> {
    r.module(
        "diffusion_prior",
        "DALL-E 2 diffusion prior: text_embed [B, D] + image_embed [B, D] → pred/target [B, D] (x_0 prediction) in training; \
         text_embed [B, D] → image_embed [B, D] (unit norm) by guided DDIM when image_embed is absent",
        |p, cfg: &DiffusionPriorConfig| DiffusionPrior::new(p, cfg),
    );
    r.module(
        "unclip_decoder",
        "unCLIP decoder, a U-Net conditioned on the CLIP image embedding: images [B, C, S, S] in [-1, 1] + image_embed [B, D] → \
         pred/target [B, C, S, S] (ε, x_0 or v), timesteps [B] in training; image_embed [B, D] → images [B, C, S, S] by guided DDIM when images is absent",
        |p, cfg: &UnclipDecoderConfig| UnclipDecoder::new(p, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);
