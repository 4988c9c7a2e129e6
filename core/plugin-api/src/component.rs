//! The component traits. Implement them with plain safe code: the registrar wraps every
//! implementation in a guard that catches panics inside the plugin.
//!
//! Shapes use `B` for batch, `L` for sequence length, `D` for feature width.
use tch::Tensor;

use crate::{Modality, ModalityFeatures, Result, TensorMap};

/// Maps one modality to a feature vector per example.
pub trait Encoder {
    /// The modality this encoder consumes.
    fn modality(&self) -> Modality;
    /// Width `D` of the output.
    fn output_dim(&self) -> i64;
    /// Input shapes by modality: image `[B, C, H, W]` f32; text `[B, L]` i64 token ids with
    /// padding id 0; audio `[B, n_mels, T]` f32; video `[B, T, C, H, W]` f32.
    /// Returns `[B, D]`, not normalised.
    fn encode(&self, input: &Tensor, train: bool) -> Result<Tensor>;
    /// A second handle on the same parameters (tensors made with `shallow_clone`, which
    /// share storage and autograd identity), for the trainer to run on another thread
    /// while this one runs: each thread encodes a slice of the batch (`train.step_threads`).
    /// Return one only when `encode` is deterministic given its input (draws nothing from
    /// libtorch's global RNG, e.g. no dropout) and keeps no state between calls. `None`,
    /// the default, keeps training on one thread.
    fn replica(&self) -> Option<Box<dyn Encoder + Send>> {
        None
    }
}

/// A boxed encoder is one (replicas come boxed).
impl<E: Encoder + ?Sized> Encoder for Box<E> {
    fn modality(&self) -> Modality {
        (**self).modality()
    }
    fn output_dim(&self) -> i64 {
        (**self).output_dim()
    }
    fn encode(&self, input: &Tensor, train: bool) -> Result<Tensor> {
        (**self).encode(input, train)
    }
    fn replica(&self) -> Option<Box<dyn Encoder + Send>> {
        (**self).replica()
    }
}

/// Combines per-modality features `[B, D_m]` into one `[B, D]` representation.
/// Must accept any non-empty subset of modalities and honour each presence mask.
pub trait Fusion {
    fn output_dim(&self) -> i64;
    fn fuse(&self, features: &ModalityFeatures, train: bool) -> Result<Tensor>;
}

/// A training objective over named tensors; it may own parameters (e.g. a logit scale).
pub trait Loss {
    fn compute(&self, inputs: &TensorMap, train: bool) -> Result<LossOutput>;
}

/// A scalar loss plus extra scalars worth logging (kept as tensors: reading them would
/// force a device sync every step).
#[derive(Debug)]
pub struct LossOutput {
    /// Scalar `[]` loss to minimise.
    pub loss: Tensor,
    /// Named scalar `[]` tensors to log, e.g. `logit_scale`.
    pub logs: Vec<(String, Tensor)>,
}

/// What a sampler knows about the dataset when it orders an epoch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SamplerContext {
    /// Number of examples.
    pub len: usize,
    /// Zero-based epoch index.
    pub epoch: usize,
    /// Total epochs planned (curricula use the fraction `epoch / epochs`).
    pub epochs: usize,
    /// The run's seed; samplers must be deterministic given it.
    pub seed: u64,
    /// Class label per example, when the dataset has labels.
    pub labels: Option<Vec<i64>>,
    /// Which modalities each example has: bit `i` set when it has `Modality::ALL[i]`
    /// (see [`presence_bits`]). `None` when the dataset does not say (every example
    /// then counts as having the same modalities).
    pub presence: Option<Vec<u8>>,
    /// A per-example difficulty score (higher = harder), e.g. a reference model's loss,
    /// for curricula.
    pub difficulty: Option<Vec<f64>>,
}

impl SamplerContext {
    pub fn new(len: usize, epoch: usize, epochs: usize, seed: u64) -> Self {
        Self { len, epoch, epochs, seed, labels: None, presence: None, difficulty: None }
    }
    pub fn with_labels(mut self, labels: Vec<i64>) -> Self {
        self.labels = Some(labels);
        self
    }
    /// Per-example modality bits, as made by [`presence_bits`].
    pub fn with_presence(mut self, presence: Vec<u8>) -> Self {
        self.presence = Some(presence);
        self
    }
    pub fn with_difficulty(mut self, difficulty: Vec<f64>) -> Self {
        self.difficulty = Some(difficulty);
        self
    }
}

/// The presence bits of one example: bit `i` set when it has `Modality::ALL[i]`.
pub fn presence_bits(modalities: &[Modality]) -> u8 {
    Modality::ALL.iter().enumerate().filter(|(_, m)| modalities.contains(m)).fold(0, |bits, (i, _)| bits | (1 << i))
}

/// Decides the order (and multiplicity) of examples in an epoch.
pub trait Sampler {
    /// Dataset indices for this epoch, each `< ctx.len`.
    fn epoch_order(&self, ctx: &SamplerContext) -> Result<Vec<usize>>;
}

/// Named metric values, e.g. `[("i2t_r1", 0.41), ...]`.
pub type Scores = Vec<(String, f64)>;

/// Scores a whole evaluation split from named tensors (documented per metric).
pub trait Metric {
    fn compute(&self, inputs: &TensorMap) -> Result<Scores>;
}

/// Turns text into token ids. Id 0 is padding by convention.
pub trait Tokenizer {
    /// Builds the vocabulary from a training corpus (a no-op for fixed vocabularies).
    fn fit(&mut self, corpus: &[String]) -> Result<()>;
    /// Number of ids, including specials.
    fn vocab_size(&self) -> i64;
    /// `[B, L]` i64 ids for `texts`, padded with 0 to the context length.
    fn encode(&self, texts: &[String]) -> Result<Tensor>;
    /// The learned state (e.g. the vocabulary), saved with the run.
    fn state(&self) -> Result<serde_json::Value>;
}
