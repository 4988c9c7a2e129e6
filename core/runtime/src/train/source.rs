//! What an epoch runs over, and how each batch becomes images and captions.
use tch::Tensor;

use crate::data::{CaptionedImages, LoadedBatch, Loader};
use crate::error::{Error, Result};

/// What an epoch runs over.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    /// In memory, captions written from class names and templates.
    Captioned(&'a CaptionedImages),
    /// A manifest decoded by loader workers, with its split name.
    Files(&'a Loader, &'a str),
}

impl Source<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            Source::Captioned(d) => d.len(),
            Source::Files(l, _) => l.len(),
        }
    }

    /// Labels for the sampler, when every example has one.
    pub(super) fn labels(&self) -> Option<Vec<i64>> {
        match self {
            Source::Captioned(d) => Some(d.labels.clone()),
            Source::Files(l, _) => (0..l.len()).map(|i| l.record(i).and_then(|r| r.label)).collect(),
        }
    }

    /// Which modalities each example has (`plexus_plugin::presence_bits`), for samplers
    /// that balance modality combinations.
    pub(super) fn presence(&self) -> Option<Vec<u8>> {
        use plexus_plugin::{presence_bits, Modality};
        match self {
            Source::Captioned(d) => Some(vec![presence_bits(&[Modality::Image, Modality::Text]); d.len()]),
            Source::Files(l, _) => (0..l.len())
                .map(|i| {
                    l.record(i).map(|r| {
                        let has = [
                            (Modality::Image, r.image.is_some()),
                            (Modality::Text, !r.captions.is_empty()),
                            (Modality::Audio, r.audio.is_some()),
                            (Modality::Video, r.video.is_some()),
                        ];
                        presence_bits(&has.iter().filter(|(_, h)| *h).map(|(m, _)| *m).collect::<Vec<_>>())
                    })
                })
                .collect(),
        }
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Source::Captioned(d) => format!("{} {}", d.name, d.split),
            Source::Files(l, split) => format!("{} ({split})", l.name()),
        }
    }
}

/// `[B, C, H, W]` images of `ids`, their captions (class name in template `templates[i]`)
/// and labels `[B]`.
pub(super) fn gather(data: &CaptionedImages, ids: &[usize], templates: &[usize]) -> (Tensor, Vec<String>, Option<Tensor>) {
    let index = Tensor::from_slice(&ids.iter().map(|&i| i as i64).collect::<Vec<_>>());
    let captions = ids.iter().zip(templates).map(|(&i, &t)| data.caption(data.labels[i], t)).collect();
    let labels = Tensor::from_slice(&ids.iter().map(|&i| data.labels[i]).collect::<Vec<_>>());
    (data.images.index_select(0, &index), captions, Some(labels))
}

/// The `[B, C, H, W]` images and captions of a decoded batch, and its labels `[B]` when
/// every example has one; an example without image or caption is an error naming its
/// manifest line.
pub(super) fn image_caption_pairs(loader: &Loader, batch: LoadedBatch) -> Result<(Tensor, Vec<String>, Option<Tensor>)> {
    let labels = match (&batch.batch.labels, &batch.label_present) {
        (Some(labels), Some(present)) if bool::try_from(present.all())? => Some(labels.shallow_clone()),
        _ => None,
    };
    let images = batch.batch.modalities.get(&plexus_plugin::Modality::Image);
    let present: Vec<bool> = match images {
        Some(m) => Vec::try_from(&m.present)?,
        None => vec![false; batch.len()],
    };
    let mut captions = Vec::with_capacity(batch.len());
    for ((&i, caption), has_image) in batch.indices.iter().zip(batch.captions).zip(present) {
        let missing = match (has_image, &caption) {
            (false, _) => Some("image"),
            (true, None) => Some("caption"),
            (true, Some(_)) => None,
        };
        if let Some(what) = missing {
            let line = loader.record(i).map_or(0, |r| r.line);
            return Err(Error::Data(format!("{}:{line}: this example has no {what}; training a dual encoder needs an image and a caption in every example", loader.name())));
        }
        captions.extend(caption);
    }
    let images = images.map(|m| m.data.shallow_clone()).ok_or_else(|| Error::Data(format!("{}: no example has an image", loader.name())))?;
    Ok((images, captions, labels))
}
