//! Audio encoders for plexus. All take log-mel spectrograms `[B, n_mels, frames]`, as the
//! data loader decodes WAV files (`audio:` settings of a manifest dataset).
mod cnn;
mod conv1d;
mod lstm;

use plexus_plugin::{Registrar, Result};

fn register(r: &mut Registrar) -> Result<()> {
    r.encoder(
        "audio_cnn",
        "Log-mel CNN: 3×3 conv, group norm, GELU and 2×2 max-pool per stage, global average pool, linear projection",
        |path, cfg: &cnn::AudioCnnConfig| cnn::AudioCnn::new(path, cfg),
    );
    r.encoder(
        "audio_lstm",
        "Log-mel LSTM over frames, mean-pooled over time, linear projection",
        |path, cfg: &lstm::AudioLstmConfig| lstm::AudioLstm::new(path, cfg),
    );
    r.encoder(
        "audio_conv1d",
        "Log-mel 1-D CNN along time (mel bands as channels), per-frame group norm, GELU, linear; \
         pool: mean → [B, D], pool: none → per time step [B, T', D] (e.g. for CTC)",
        |path, cfg: &conv1d::AudioConv1dConfig| conv1d::AudioConv1d::new(path, cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);

pub use cnn::{AudioCnn, AudioCnnConfig};
pub use conv1d::{AudioConv1d, AudioConv1dConfig, Pool};
pub use lstm::{AudioLstm, AudioLstmConfig};
