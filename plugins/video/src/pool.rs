//! Whether a sequence encoder pools over time.
use plexus_plugin::serde::{Deserialize, Serialize};

/// `mean`: average over time steps → `[B, D]` (the encoder contract of classification and
/// retrieval); `none`: one feature per time step → `[B, T', D]` (sequence tasks, e.g. CTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", rename_all = "lowercase")]
pub enum Pool {
    #[default]
    Mean,
    None,
}
