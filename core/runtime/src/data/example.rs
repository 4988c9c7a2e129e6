//! The dataset model of the general data layer. A [`Record`] is one example as a
//! manifest describes it (paths and text, nothing decoded); a [`Decoded`] is the same
//! example after a loader worker has decoded and augmented it. Any field may be absent:
//! an example carries any subset of image, text (one or more captions), audio, video,
//! label and question/answer. The files of an example are [`Location`]s: a file of its
//! own (manifests) or a member of a `.tar` shard (WebDataset), read the same way.
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plexus_plugin::Modality;

/// One example of a manifest. Paths are already resolved against the manifest's folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line of the manifest this example came from (for error messages).
    pub line: usize,
    /// The manifest's `id` field, or `line N` when it has none.
    pub id: String,
    pub image: Option<Location>,
    pub audio: Option<Location>,
    /// Decoded by ffmpeg into frames at the dataset's `video.fps` (see `data/video.rs`).
    pub video: Option<Location>,
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
    pub fn files(&self) -> impl Iterator<Item = &Location> {
        [&self.image, &self.audio, &self.video].into_iter().flatten()
    }
}

/// Where the bytes of one image, audio clip or video are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    /// A regular-file member of a tar shard, at a known data offset (see `data/webdataset.rs`).
    Member(TarMember),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarMember {
    /// Shared by every member of the shard.
    pub shard: Arc<Path>,
    /// The member's path inside the shard.
    pub name: String,
    /// Byte offset of the member's data in the shard, and its length.
    pub offset: u64,
    pub size: u64,
}

impl Location {
    /// A plain file, for messages: `data/x/a.png` or `data/x/shard-003.tar:000123.png`.
    pub fn display(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::Member(m) => format!("{}:{}", m.shard.display(), m.name),
        }
    }

    /// The file on disk, when this is a file of its own.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            Location::File(p) => Some(p),
            Location::Member(_) => None,
        }
    }

    /// All bytes of the file or member; errors name it.
    pub fn read(&self) -> crate::Result<Vec<u8>> {
        match self {
            Location::File(p) => std::fs::read(p).map_err(|e| crate::Error::io(p, e)),
            Location::Member(m) => {
                let fail = |e: std::io::Error| crate::Error::Data(format!("{}: cannot read the member: {e}", self.display()));
                let mut f = std::fs::File::open(&m.shard).map_err(fail)?;
                f.seek(SeekFrom::Start(m.offset)).map_err(fail)?;
                let mut bytes = Vec::with_capacity(m.size as usize);
                f.take(m.size).read_to_end(&mut bytes).map_err(fail)?;
                if bytes.len() as u64 != m.size {
                    return Err(fail(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("the shard ends {} bytes into this {}-byte member", bytes.len(), m.size))));
                }
                Ok(bytes)
            }
        }
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
