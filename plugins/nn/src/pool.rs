//! Whether a sequence encoder pools over time.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{Kind, Tensor};

/// `mean`: average over time steps → `[B, D]` (the encoder contract of classification and
/// retrieval); `none`: one feature per time step → `[B, T', D]` (sequence tasks, e.g. CTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", rename_all = "lowercase")]
pub enum Pool {
    #[default]
    Mean,
    None,
}

impl Pool {
    /// `features` `[B, T', D]` → `[B, D]` (`mean`) or unchanged (`none`).
    pub fn apply(self, features: Tensor) -> Tensor {
        match self {
            Pool::Mean => features.mean_dim([1i64].as_slice(), false, Kind::Float),
            Pool::None => features,
        }
    }
}
