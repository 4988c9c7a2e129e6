//! Decoded examples → a [`LoadedBatch`]. Every modality the dataset has gets a
//! `ModalityBatch` in every batch; rows of examples that lack it hold zeros and have
//! `present = false`. Nothing else is padded: all present rows already have the
//! configured shape (images are resized/cropped, spectrograms cut or extended).
use plexus_plugin::{Batch, Modality, ModalityBatch};
use tch::{Kind, Tensor};

use super::example::Decoded;
use crate::error::{Error, Result};

/// What every batch of a dataset holds, decided once from the whole dataset so that all
/// batches have the same modalities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// `[C, H, W]` when any example has an image.
    pub image: Option<[usize; 3]>,
    /// `[n_mels, frames]` when any example has audio.
    pub audio: Option<[usize; 2]>,
    /// `[T, C, H, W]` when any example has a video.
    pub video: Option<[usize; 4]>,
    /// Whether any example has a label.
    pub labels: bool,
}

/// A batch as the loader yields it.
#[derive(Debug)]
pub struct LoadedBatch {
    /// `modalities`: image `[B, C, H, W]` f32, audio `[B, n_mels, frames]` f32 and video
    /// `[B, T, C, H, W]` f32, each with
    /// its `[B]` presence mask. `labels`: `[B]` i64 (0 where absent, see `label_present`),
    /// only when the dataset has labels. `indices`: `[B]` i64 dataset positions.
    pub batch: Batch,
    /// `[B]` bool, `false` where the example has no label; only with labels.
    pub label_present: Option<Tensor>,
    /// Text stays text until a model's tokenizer turns it into ids; `None` = absent.
    pub captions: Vec<Option<String>>,
    pub questions: Vec<Option<String>>,
    pub answers: Vec<Option<String>>,
    /// Dataset positions of the rows (the same as `batch.indices`).
    pub indices: Vec<usize>,
}

impl LoadedBatch {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// `[B]` bool text presence, as the other modalities carry it.
    pub fn text_present(&self) -> Tensor {
        Tensor::from_slice(&self.captions.iter().map(Option::is_some).collect::<Vec<_>>())
    }
}

/// Stacks `examples` in the order given.
pub fn collate(examples: &[Decoded], layout: &Layout) -> Result<LoadedBatch> {
    let mut batch = Batch::default();
    if let Some(shape) = layout.image {
        batch.modalities.insert(Modality::Image, stack(examples, &shape, |e| e.image.as_deref(), "image")?);
    }
    if let Some(shape) = layout.audio {
        batch.modalities.insert(Modality::Audio, stack(examples, &shape, |e| e.audio.as_deref(), "audio")?);
    }
    if let Some(shape) = layout.video {
        batch.modalities.insert(Modality::Video, stack(examples, &shape, |e| e.video.as_deref(), "video")?);
    }
    let indices: Vec<usize> = examples.iter().map(|e| e.index).collect();
    batch.indices = Some(Tensor::from_slice(&indices.iter().map(|&i| i as i64).collect::<Vec<_>>()));
    let mut label_present = None;
    if layout.labels {
        batch.labels = Some(Tensor::from_slice(&examples.iter().map(|e| e.label.unwrap_or(0)).collect::<Vec<_>>()));
        label_present = Some(Tensor::from_slice(&examples.iter().map(|e| e.label.is_some()).collect::<Vec<_>>()));
    }
    Ok(LoadedBatch {
        batch,
        label_present,
        captions: examples.iter().map(|e| e.caption.clone()).collect(),
        questions: examples.iter().map(|e| e.question.clone()).collect(),
        answers: examples.iter().map(|e| e.answer.clone()).collect(),
        indices,
    })
}

/// `[B, ...shape]` f32 with zero rows where `get` is `None`, and the `[B]` mask.
fn stack(examples: &[Decoded], shape: &[usize], get: impl Fn(&Decoded) -> Option<&[f32]>, what: &str) -> Result<ModalityBatch> {
    let row: usize = shape.iter().product();
    let mut data = vec![0f32; examples.len() * row];
    let mut present = Vec::with_capacity(examples.len());
    for (i, e) in examples.iter().enumerate() {
        present.push(match get(e) {
            Some(values) if values.len() == row => {
                data[i * row..(i + 1) * row].copy_from_slice(values);
                true
            }
            Some(values) => {
                return Err(Error::Data(format!("example {}: {what} has {} values, the batch layout {shape:?} needs {row}", e.index, values.len())))
            }
            None => false,
        });
    }
    let dims: Vec<i64> = std::iter::once(examples.len() as i64).chain(shape.iter().map(|&d| d as i64)).collect();
    Ok(ModalityBatch { data: Tensor::from_slice(&data).view(dims.as_slice()).to_kind(Kind::Float), present: Tensor::from_slice(&present) })
}
