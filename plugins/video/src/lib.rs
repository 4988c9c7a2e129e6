//! Video components for plexus: a 3D-CNN video encoder (pooled or per time step) and a
//! sequence cross-attention block in which one stream's frames (e.g. audio) attend to
//! another's (e.g. video) resampled onto the same time axis — the fusion of
//! audio-visual speech recognition (`scripts/avsr.rhai`).
mod cnn3d;
mod seq_cross_attention;

pub use cnn3d::{VideoCnn3d, VideoCnn3dConfig};
pub use plexus_nn::Pool;
pub use seq_cross_attention::{SeqCrossAttention, SeqCrossAttentionConfig};

use plexus_plugin::{Registrar, Result};

/// Registers every component (public so tests can build them through the registrar).
pub fn register(r: &mut Registrar) -> Result<()> {
    r.encoder(
        "video_cnn3d",
        "3D CNN over video [B, T, C, H, W]: Conv3d + group norm + GELU stages (spatial stride 2), spatial mean, linear; \
         pool: mean → [B, D], pool: none → per time step [B, T', D]",
        |path, cfg: &VideoCnn3dConfig| VideoCnn3d::new(path, cfg),
    );
    r.module(
        "seq_cross_attention",
        "Pre-norm cross-attention block: queries [B, Tq, query_dim] attend to context [B, Tk, context_dim] resampled onto the \
         queries' time axis (optional local window, optional [B] context_present), then an MLP → features [B, Tq, query_dim]",
        |p, cfg: &SeqCrossAttentionConfig| SeqCrossAttention::new(p, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);
