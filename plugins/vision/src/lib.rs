//! Vision encoders for plexus.
mod vit;

use plexus_plugin::{Registrar, Result};

fn register(r: &mut Registrar) -> Result<()> {
    r.encoder(
        "vit",
        "Vision Transformer (open_clip VisionTransformer parameter names): patchify, class token, pre-norm blocks, projection",
        |path, cfg: &vit::VitConfig| vit::VisionTransformer::new(path, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);

pub use vit::{VisionTransformer, VitConfig};
