//! The dataset model of the general data layer. A [`Record`] is one example as a
//! manifest describes it (paths and text, nothing decoded); a [`Decoded`] is the same
//! example after a loader worker has decoded and augmented it. Any field may be absent:
//! an example carries any subset of image, text (one or more captions), audio, video,
//! label and question/answer.
use std::path::PathBuf;

use plexus_plugin::Modality;

/// One example of a manifest. Paths are already resolved against the manifest's folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line of the manifest this example came from (for error messages).
    pub line: usize,
    /// The manifest's `id` field, or `line N` when it has none.
    pub id: String,
    pub image: Option<PathBuf>,
    pub audio: Option<PathBuf>,
    /// Decoded by ffmpeg into frames at the dataset's `video.fps` (see `data/video.rs`).
    pub video: Option<PathBuf>,
    /// Every caption of the example; a loader picks one per epoch.
    pub captions: Vec<String>,
    pub label: Option<i64>,
    pub question: Option<String>,
    pub answer: Option<String>,
}

impl Record {
    /// An example with only its line number set; fields are filled in by the manifest parser.
    pub fn empty(line: usize) -> Self {
        Self {
            line,
            id: format!("line {line}"),
            image: None,
            audio: None,
            video: None,
            captions: vec![],
            label: None,
            question: None,
            answer: None,
        }
    }

    pub fn has(&self, modality: Modality) -> bool {
        match modality {
            Modality::Image => self.image.is_some(),
            Modality::Text => !self.captions.is_empty(),
            Modality::Audio => self.audio.is_some(),
            Modality::Video => self.video.is_some(),
        }
    }

    /// The files this example reads, for error and skip reports.
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        [&self.image, &self.audio, &self.video].into_iter().flatten()
    }
}

/// One example after decoding and augmentation, ready to be collated into a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Position of the example in its dataset.
    pub index: usize,
    /// `[C * H * W]` normalised pixels, channel-major.
    pub image: Option<Vec<f32>>,
    /// `[n_mels * frames]` log-mel values, mel-major.
    pub audio: Option<Vec<f32>>,
    /// `[T * C * H * W]` normalised frames, frame-major.
    pub video: Option<Vec<f32>>,
    /// The caption chosen for this epoch.
    pub caption: Option<String>,
    pub label: Option<i64>,
    pub question: Option<String>,
    pub answer: Option<String>,
}

impl Decoded {
    pub fn empty(index: usize) -> Self {
        Self { index, image: None, audio: None, video: None, caption: None, label: None, question: None, answer: None }
    }
}
