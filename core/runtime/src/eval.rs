//! Evaluation of a dual encoder on a captioned image split.
//!
//! Protocol (recorded in the summary): every image is embedded, and so is every distinct
//! caption the templates produce (C classes × T templates). Zero-shot classification
//! ensembles a class's T caption embeddings. Retrieval runs between the N images and the
//! C×T distinct captions with class-level relevance: captions written from class names
//! cannot tell two images of one class apart, and scoring against N duplicated captions
//! would turn exact ties into rank jumps.
use plexus_plugin::{Metric, TensorMap};
use tch::{Kind, Tensor};

use crate::data::CaptionedImages;
use crate::error::Result;
use crate::model::DualEncoder;

/// The protocol string recorded with every score measured on `data`.
pub fn protocol(data: &CaptionedImages) -> String {
    format!(
        "{} {}: {} images; texts = {} distinct captions ({} classes x {} templates); zero-shot ensembles all templates per class; retrieval relevance = same class",
        data.name,
        data.split,
        data.len(),
        data.class_names.len() * data.templates.len(),
        data.class_names.len(),
        data.templates.len()
    )
}

/// Embeds a split and scores it with every metric. Returns `(name, value)` pairs.
pub fn evaluate(model: &DualEncoder, data: &CaptionedImages, metrics: &[&dyn Metric], batch_size: usize) -> Result<Vec<(String, f64)>> {
    let _no_grad = tch::no_grad_guard();
    let n = data.len() as i64;
    let t = data.templates.len() as i64;
    let mut image_chunks = Vec::new();
    let mut start = 0i64;
    while start < n {
        let len = (batch_size as i64).min(n - start);
        image_chunks.push(model.embed_images(&data.images.narrow(0, start, len), false)?.to_device(tch::Device::Cpu));
        start += len;
    }
    let classes = data.class_names.len() as i64;
    let captions = data.all_captions(); // class-major: C × T
    let text_embeds = model.embed_texts(&captions, false)?.to_device(tch::Device::Cpu); // [C*T, D]
    let d = text_embeds.size()[1];
    let labels = Tensor::from_slice(&data.labels).to_kind(Kind::Int64); // [N]
    let caption_classes = Tensor::arange(classes, (Kind::Int64, tch::Device::Cpu)).repeat_interleave_self_int(t, 0, None); // [C*T]
    let inputs = TensorMap::new()
        .with("image_embeds", &Tensor::cat(&image_chunks, 0)) // [N, D]
        .with("text_embeds", &text_embeds) // [C*T, D]
        .with("class_embeds", &text_embeds.view([classes, t, d])) // [C, T, D]
        .with("labels", &labels)
        .with("image_groups", &labels)
        .with("text_groups", &caption_classes);
    let mut scores = Vec::new();
    for metric in metrics {
        scores.extend(metric.compute(&inputs)?);
    }
    Ok(scores)
}

/// Writes `image_embeds` `[N, D]`, `text_embeds` `[N, D]` (each image's class caption with
/// the first template) and `labels` `[N]` of a split to a safetensors file, unnormalised.
pub fn export_embeddings(model: &DualEncoder, data: &CaptionedImages, path: &std::path::Path, batch_size: usize) -> Result<()> {
    let _no_grad = tch::no_grad_guard();
    let n = data.len() as i64;
    let mut chunks = Vec::new();
    let mut start = 0i64;
    while start < n {
        let len = (batch_size as i64).min(n - start);
        chunks.push(model.embed_images(&data.images.narrow(0, start, len), false)?.to_device(tch::Device::Cpu));
        start += len;
    }
    let classes: Vec<String> = (0..data.class_names.len() as i64).map(|c| data.caption(c, 0)).collect();
    let class_text = model.embed_texts(&classes, false)?.to_device(tch::Device::Cpu); // [C, D]
    let labels = Tensor::from_slice(&data.labels).to_kind(Kind::Int64); // [N]
    let tensors = vec![
        ("image_embeds".to_string(), Tensor::cat(&chunks, 0)),
        ("text_embeds".to_string(), class_text.index_select(0, &labels)),
        ("labels".to_string(), labels),
    ];
    crate::checkpoint::write_tensors(path, &tensors, None)
}
