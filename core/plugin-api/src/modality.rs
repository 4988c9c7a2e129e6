use std::collections::BTreeMap;
use std::fmt;
use tch::Tensor;

/// The input modalities plexus knows. Missing modalities are first-class: every batch
/// carries a presence mask per modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Modality {
    Image,
    Text,
    Audio,
    Video,
}

impl Modality {
    pub const ALL: [Modality; 4] = [Modality::Image, Modality::Text, Modality::Audio, Modality::Video];
    pub fn name(self) -> &'static str {
        match self {
            Modality::Image => "image",
            Modality::Text => "text",
            Modality::Audio => "audio",
            Modality::Video => "video",
        }
    }
    pub fn parse(name: &str) -> Option<Modality> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One modality of a batch.
/// - `data`: image `[B, C, H, W]` f32, text `[B, L]` i64 token ids, audio `[B, n_mels, T]` f32,
///   video `[B, T, C, H, W]` f32. Rows whose modality is absent hold zeros.
/// - `present`: `[B]` bool; `false` where the example lacks this modality.
#[derive(Debug)]
pub struct ModalityBatch {
    pub data: Tensor,
    pub present: Tensor,
}

/// A batch of examples: any subset of modalities, plus optional labels `[B]` i64 and the
/// dataset indices `[B]` i64 of its examples.
#[derive(Debug, Default)]
pub struct Batch {
    pub modalities: BTreeMap<Modality, ModalityBatch>,
    pub labels: Option<Tensor>,
    pub indices: Option<Tensor>,
}

/// Per-modality features handed to a fusion: `[B, D_m]` features and `[B]` presence.
pub type ModalityFeatures = BTreeMap<Modality, ModalityBatch>;
