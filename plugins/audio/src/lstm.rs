//! An LSTM over the frames of a log-mel spectrogram.
use plexus_nn::expect_rank;
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, nn::RNN, Tensor};
use plexus_plugin::{Encoder, Error, Modality, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct AudioLstmConfig {
    pub n_mels: i64,
    /// Typical number of frames (any length works); sizes conformance checks.
    pub frames: i64,
    pub hidden: i64,
    pub layers: i64,
    pub bidirectional: bool,
    pub output_dim: i64,
}

impl Default for AudioLstmConfig {
    fn default() -> Self {
        Self { n_mels: 64, frames: 100, hidden: 128, layers: 1, bidirectional: true, output_dim: 128 }
    }
}

#[derive(Debug)]
pub struct AudioLstm {
    lstm: nn::LSTM,
    proj: nn::Linear,
    cfg: AudioLstmConfig,
}

impl AudioLstm {
    pub fn new(p: &nn::Path, cfg: &AudioLstmConfig) -> Result<Self> {
        if cfg.n_mels < 1 || cfg.hidden < 1 || cfg.layers < 1 || cfg.output_dim < 1 {
            return Err(Error::other(format!("audio_lstm: n_mels, hidden, layers and output_dim must be >= 1 (got {cfg:?})")));
        }
        let rnn = nn::RNNConfig { num_layers: cfg.layers, bidirectional: cfg.bidirectional, batch_first: true, ..Default::default() };
        let directions = if cfg.bidirectional { 2 } else { 1 };
        Ok(Self {
            lstm: nn::lstm(p / "lstm", cfg.n_mels, cfg.hidden, rnn),
            proj: nn::linear(p / "proj", directions * cfg.hidden, cfg.output_dim, Default::default()),
            cfg: cfg.clone(),
        })
    }
}

impl Encoder for AudioLstm {
    fn modality(&self) -> Modality {
        Modality::Audio
    }

    fn output_dim(&self) -> i64 {
        self.cfg.output_dim
    }

    /// log-mel `[B, n_mels, T]` → `[B, output_dim]` (mean of the LSTM outputs over T).
    fn encode(&self, mel: &Tensor, _train: bool) -> Result<Tensor> {
        let size = expect_rank(mel, 3, "audio_lstm input")?;
        if size[1] != self.cfg.n_mels || size[2] < 1 {
            return Err(Error::shape(format!("audio_lstm expects log-mel [B, {}, T>=1], got {size:?}", self.cfg.n_mels)));
        }
        let (out, _) = self.lstm.seq(&mel.transpose(1, 2).contiguous()); // [B, T, dirs*hidden]
        Ok(self.proj.forward(&out.mean_dim([1i64].as_slice(), false, out.kind()))) // [B, output_dim]
    }
}
