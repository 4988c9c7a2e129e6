//! Vision encoders for plexus.
mod cnn;
mod vit;

use plexus_plugin::{Registrar, Result};

fn register(r: &mut Registrar) -> Result<()> {
    r.encoder(
        "vit",
        "Vision Transformer (open_clip VisionTransformer parameter names): patchify, class token, pre-norm blocks, projection",
        |path, cfg: &vit::VitConfig| vit::VisionTransformer::new(path, cfg),
    );
    r.encoder(
        "cnn",
        "Small CNN: stages of conv 3x3 → group norm → ReLU → max-pool 2x2, global average pooling, linear projection; images [B, C, S, S] → [B, output_dim]",
        |path, cfg: &cnn::CnnConfig| cnn::Cnn::new(path, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);

pub use cnn::{Cnn, CnnConfig};
pub use vit::{VisionTransformer, VitConfig};
