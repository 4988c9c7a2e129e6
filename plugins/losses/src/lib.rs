//! Training objectives for plexus.
mod clip;

use plexus_plugin::{Registrar, Result};

fn register(r: &mut Registrar) -> Result<()> {
    r.loss(
        "clip",
        "Symmetric InfoNCE over image/text pairs with a learnable logit scale, clamped to ln(100) as in CLIP",
        |path, cfg: &clip::ClipLossConfig| clip::ClipLoss::new(path, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);

pub use clip::{ClipLoss, ClipLossConfig};
