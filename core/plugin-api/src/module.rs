//! Generic modules: named tensors in, named tensors out. For components that are neither
//! encoders nor fusions nor losses — projectors, conditioned decoders, denoisers, VQ
//! tokenizers — each documents the names and shapes it reads and writes.
use crate::{Result, TensorMap};

/// A trainable (or fixed) computation on named tensors.
///
/// Convention the conformance kit checks: every input and output has the batch as its
/// first dimension, the same `B` throughout; eval mode (`train == false`) is
/// deterministic; a missing or misshapen input is an [`crate::Error`], never a panic.
pub trait Module {
    /// Named input tensors → named output tensors; shapes documented per component.
    fn forward(&self, inputs: &TensorMap, train: bool) -> Result<TensorMap>;

    /// A small valid input set (batch of at least 2) for the conformance kit, matching
    /// this instance's config. `None`: the kit only checks construction.
    fn example_inputs(&self) -> Option<TensorMap> {
        None
    }
}
