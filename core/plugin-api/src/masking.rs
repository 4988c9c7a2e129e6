//! Masking schedules: which modalities training sees, step by step. A schedule does not
//! reorder examples (that is a [`crate::Sampler`]); it narrows each batch's presence masks,
//! e.g. modality dropout or bringing a modality in gradually.
use std::collections::BTreeMap;
use tch::Tensor;

use crate::{Modality, Result};

/// Where training is when a schedule is asked for a batch's presence.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct MaskingContext {
    /// Zero-based epoch index.
    pub epoch: usize,
    /// Total epochs planned.
    pub epochs: usize,
    /// Global optimiser step (zero-based) the batch is for.
    pub step: usize,
    /// Fraction of training done when the batch starts, in `[0, 1]`.
    pub progress: f64,
    /// The run's seed; schedules must be deterministic given (seed, step).
    pub seed: u64,
}

impl MaskingContext {
    pub fn new(epoch: usize, epochs: usize, step: usize, progress: f64, seed: u64) -> Self {
        Self { epoch, epochs, step, progress, seed }
    }
}

/// Per-modality presence of a batch: `[B]` bool each, all of one batch size.
pub type Presence = BTreeMap<Modality, Tensor>;

/// Decides, per batch, which present modalities training keeps.
pub trait Masking {
    /// `presence` → the presence to apply: the same modalities and shapes, `true` only
    /// where `presence` is `true`. A schedule never removes every modality of an example
    /// that had at least one.
    fn mask(&self, ctx: &MaskingContext, presence: &Presence) -> Result<Presence>;
}
