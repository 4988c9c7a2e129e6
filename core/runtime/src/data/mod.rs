//! Datasets.
//!
//! Fashion-MNIST is decoded once into tensors held in memory; batches are views gathered
//! by index, so the trainer never waits on decoding for these sizes.
//!
//! The general data layer reads JSONL manifests ([`Manifest`]) whose examples carry any
//! subset of image, captions, audio, video, label and question/answer, and decodes them
//! in parallel worker threads ([`Loader`]) into [`LoadedBatch`]es with a presence mask
//! per modality (absent rows are zeros with `present = false`). Videos are decoded by
//! ffmpeg into frames at a fixed rate ([`VideoConfig`]). WebDataset `.tar` shards
//! ([`open_shards`]) give the same records, read from shard members by offset.
mod audio;
mod collate;
mod example;
mod fashion_mnist;
mod idx;
mod image_file;
mod loader;
mod manifest;
mod resample;
mod video;
mod webdataset;

pub use audio::{read_wav, read_wav_at, AudioConfig, LogMel, LOG_OFFSET};
pub use collate::{collate, Layout, LoadedBatch};
pub use example::{Decoded, Location, Record, TarMember};
pub use fashion_mnist::{load_fashion_mnist, FASHION_MNIST_CLASSES};
pub use idx::{read_idx, IdxArray};
pub use image_file::ImageConfig;
pub use loader::{example_seed, shard_order, EpochIter, Loader, LoaderConfig, OnError, Skipped};
pub use manifest::Manifest;
pub use resample::resample;
pub use video::VideoConfig;
pub use webdataset::{expand_braces, open_shards, Shards};

use tch::Tensor;

/// Images with class labels and caption templates: an image–text dataset whose captions
/// are written from class names (e.g. "a photo of a {}." → "a photo of a sneaker.").
#[derive(Debug)]
pub struct CaptionedImages {
    pub name: String,
    pub split: String,
    /// `[N, C, H, W]` f32, normalised.
    pub images: Tensor,
    /// Class per example.
    pub labels: Vec<i64>,
    pub class_names: Vec<String>,
    /// Caption templates with one `{}` for the class name.
    pub templates: Vec<String>,
}

impl CaptionedImages {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn caption(&self, class: i64, template: usize) -> String {
        self.templates[template].replace("{}", &self.class_names[class as usize])
    }

    /// Every caption the templates can produce, for fitting a tokenizer.
    pub fn all_captions(&self) -> Vec<String> {
        let classes = self.class_names.len() as i64;
        (0..classes).flat_map(|c| (0..self.templates.len()).map(move |t| (c, t))).map(|(c, t)| self.caption(c, t)).collect()
    }
}
