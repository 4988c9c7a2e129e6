//! Evaluation of a dual encoder on a captioned image split.
//!
//! Protocol (recorded in the summary): every image is embedded; each image gets one
//! caption, template `i mod T`; class prompts use every template. Retrieval relevance is
//! class-level (a caption is relevant to every image of its class), since captions
//! written from class names cannot tell two images of one class apart.
use plexus_plugin::{Metric, TensorMap};
use tch::{Kind, Tensor};

use crate::data::CaptionedImages;
use crate::error::Result;
use crate::model::DualEncoder;

pub const PROTOCOL: &str =
    "captions from class-name templates (template i mod T for image i); zero-shot prompts ensemble all templates; retrieval relevance = same class";

/// Embeds a split and scores it with every metric. Returns `(name, value)` pairs.
pub fn evaluate(model: &DualEncoder, data: &CaptionedImages, metrics: &[&dyn Metric], batch_size: usize) -> Result<Vec<(String, f64)>> {
    let _no_grad = tch::no_grad_guard();
    let n = data.len() as i64;
    let t = data.templates.len();
    let mut image_chunks = Vec::new();
    let mut text_chunks = Vec::new();
    let mut start = 0i64;
    while start < n {
        let len = (batch_size as i64).min(n - start);
        image_chunks.push(model.embed_images(&data.images.narrow(0, start, len), false)?.to_device(tch::Device::Cpu));
        let captions: Vec<String> =
            (start..start + len).map(|i| data.caption(data.labels[i as usize], i as usize % t)).collect();
        text_chunks.push(model.embed_texts(&captions, false)?.to_device(tch::Device::Cpu));
        start += len;
    }
    let classes = data.class_names.len() as i64;
    let prompts = data.all_captions(); // class-major: C × T
    let class_embeds = model.embed_texts(&prompts, false)?.to_device(tch::Device::Cpu); // [C*T, D]
    let d = class_embeds.size()[1];
    let labels = Tensor::from_slice(&data.labels).to_kind(Kind::Int64); // [N]
    let inputs = TensorMap::new()
        .with("image_embeds", &Tensor::cat(&image_chunks, 0)) // [N, D]
        .with("text_embeds", &Tensor::cat(&text_chunks, 0)) // [N, D]
        .with("class_embeds", &class_embeds.view([classes, t as i64, d])) // [C, T, D]
        .with("labels", &labels)
        .with("image_groups", &labels)
        .with("text_groups", &labels);
    let mut scores = Vec::new();
    for metric in metrics {
        scores.extend(metric.compute(&inputs)?);
    }
    Ok(scores)
}
