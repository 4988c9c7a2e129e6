//! Manifest datasets in scripts. `dataset("manifest", #{path: "data/pairs.jsonl", ...})`
//! returns a `ManifestDataset` that `train_epoch` decodes with parallel loader workers
//! and `evaluate` scores by image–caption retrieval (example i's image ↔ its first caption);
//! `export_embeddings` writes the same embeddings for `plexus analyze`.
use std::path::PathBuf;
use std::rc::Rc;

use plexus_plugin::{Metric, Modality, TensorMap};
use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::api_config::hparams_of;
use super::api_data::{finish_evaluation, metric_handles};
use super::convert::{rt, RhaiResult};
use super::handles::{ModelHandle, TokenizerHandle};
use super::Shared;
use crate::data::{AudioConfig, ImageConfig, VideoConfig, Loader, LoaderConfig, Manifest, OnError, Skipped};
use crate::model::DualEncoder;

/// `dataset("manifest", cfg)` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ManifestConfig {
    /// The JSONL manifest (relative to the working directory); its paths are relative to it.
    path: String,
    /// A name for messages and summary keys.
    split: String,
    /// Use only the first N examples (0 = all).
    limit: usize,
    /// Decode threads and batches decoded ahead (over all threads).
    workers: usize,
    prefetch: usize,
    /// Random crops/flips and caption choice while training (evaluation never augments).
    augment: bool,
    /// `fail` stops at the first undecodable file; `skip` leaves its example out and
    /// reports it in the dataset's `skipped` list and the summary.
    on_error: OnError,
    image: ImageConfig,
    audio: AudioConfig,
    video: VideoConfig,
}

impl Default for ManifestConfig {
    fn default() -> Self {
        let l = LoaderConfig::default();
        Self {
            path: String::new(),
            split: "train".into(),
            limit: 0,
            workers: l.workers,
            prefetch: l.prefetch,
            augment: l.augment,
            on_error: l.on_error,
            image: l.image,
            audio: l.audio,
            video: l.video,
        }
    }
}

pub struct ManifestDataset {
    pub split: String,
    /// Decodes training epochs (augmenting as configured).
    pub loader: Loader,
    /// The same examples, never augmented, in manifest order.
    pub eval_loader: Loader,
    pub modalities: Vec<Modality>,
}

#[derive(Clone)]
pub struct ManifestHandle(pub Rc<ManifestDataset>);

/// Loads a manifest dataset; `cap` bounds the examples kept (for `plexus check`).
pub fn load(cfg: &Dynamic, cap: Option<usize>, seed: u64) -> RhaiResult<ManifestHandle> {
    let c: ManifestConfig = hparams_of(cfg, "dataset `manifest`")?.parse().map_err(rt)?;
    if c.path.is_empty() {
        return Err(rt("dataset `manifest`: `path` is required (a JSONL file, one example per line)"));
    }
    let mut manifest = Manifest::load(&PathBuf::from(&c.path)).map_err(rt)?;
    let limit = match (c.limit, cap) {
        (0, cap) => cap.unwrap_or(usize::MAX),
        (l, cap) => l.min(cap.unwrap_or(usize::MAX)),
    };
    manifest.records.truncate(limit);
    let loader_cfg = LoaderConfig {
        workers: c.workers,
        prefetch: c.prefetch,
        augment: c.augment,
        on_error: c.on_error,
        image: c.image,
        audio: c.audio,
        video: c.video,
        ..LoaderConfig::default()
    };
    let loader = Loader::new(&manifest, loader_cfg.clone(), seed).map_err(rt)?;
    let eval_loader = Loader::new(&manifest, LoaderConfig { augment: false, shuffle: false, ..loader_cfg }, seed).map_err(rt)?;
    let modalities = manifest.modalities();
    Ok(ManifestHandle(Rc::new(ManifestDataset { split: c.split, loader, eval_loader, modalities })))
}

/// Skipped examples of both loaders, once each, by index.
pub fn skipped(data: &ManifestDataset) -> Vec<Skipped> {
    let mut all: std::collections::BTreeMap<usize, Skipped> = data.loader.skipped().into_iter().map(|s| (s.index, s)).collect();
    all.extend(data.eval_loader.skipped().into_iter().map(|s| (s.index, s)));
    all.into_values().collect()
}

/// Writes the skip count into the run summary (`data/<split>/skipped_examples`) and
/// warns about files not reported before.
pub fn report_skipped(session: &Shared, data: &ManifestDataset) {
    let skipped = skipped(data);
    let key = format!("data/{}/skipped_examples", data.split);
    let before = session.borrow().summary.get(&key).and_then(|v| v.as_u64()).unwrap_or(0) as usize;
    for s in skipped.iter().skip(before) {
        tracing::warn!("{}:{}: skipped example: {}", data.loader.name(), s.line, s.reason);
    }
    if !skipped.is_empty() {
        session.borrow_mut().summary.insert(key, skipped.len().into());
    }
}

/// Image and first-caption embeddings `[N, D]` of every example (which must have both),
/// and labels `[N]` when every example has one.
fn embed_pairs(model: &DualEncoder, data: &ManifestDataset) -> crate::Result<TensorMap> {
    let _no_grad = tch::no_grad_guard();
    let (mut images, mut texts, mut labels, mut all_labelled) = (Vec::new(), Vec::new(), Vec::new(), true);
    for batch in data.eval_loader.epoch(0) {
        let b = batch?;
        let has_labels = b.label_present.as_ref().map(Vec::<bool>::try_from).transpose()?;
        let Some(image) = b.batch.modalities.get(&Modality::Image) else {
            return Err(crate::Error::Data(format!("{}: evaluation needs images; no example has one", data.loader.name())));
        };
        let present: Vec<bool> = Vec::try_from(&image.present)?;
        let mut captions = Vec::with_capacity(b.len());
        for (row, &i) in b.indices.iter().enumerate() {
            let line = data.loader.record(i).map_or(0, |r| r.line);
            match (&b.captions[row], present[row]) {
                (Some(c), true) => captions.push(c.clone()),
                _ => return Err(crate::Error::Data(format!("{}:{line}: evaluation needs an image and a caption in every example", data.loader.name()))),
            }
        }
        images.push(model.embed_images(&image.data, false)?.to_device(tch::Device::Cpu)); // [b, D]
        texts.push(model.embed_texts(&captions, false)?.to_device(tch::Device::Cpu)); // [b, D]
        match (&b.batch.labels, has_labels) {
            (Some(l), Some(p)) if p.iter().all(|&x| x) => labels.push(l.shallow_clone()),
            _ => all_labelled = false,
        }
    }
    let mut inputs = TensorMap::new().with("image_embeds", &Tensor::cat(&images, 0)).with("text_embeds", &Tensor::cat(&texts, 0));
    if all_labelled && !labels.is_empty() {
        inputs = inputs.with("labels", &Tensor::cat(&labels, 0).to_kind(Kind::Int64)); // [N]
    }
    Ok(inputs)
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine
        .register_type_with_name::<ManifestHandle>("ManifestDataset")
        .register_get("len", |d: &mut ManifestHandle| d.0.loader.len() as i64)
        .register_get("split", |d: &mut ManifestHandle| d.0.split.clone())
        .register_get("modalities", |d: &mut ManifestHandle| -> Array { d.0.modalities.iter().map(|m| Dynamic::from(m.name().to_string())).collect() })
        .register_get("skipped", |d: &mut ManifestHandle| -> Array {
            skipped(&d.0)
                .into_iter()
                .map(|s| {
                    let mut m = Map::new();
                    m.insert("file".into(), s.file.into());
                    m.insert("line".into(), (s.line as i64).into());
                    m.insert("reason".into(), s.reason.into());
                    Dynamic::from_map(m)
                })
                .collect()
        });

    // Same file layout as for in-memory datasets, so `plexus analyze` reads it; `labels`
    // only when every example has one.
    let s = session.clone();
    engine.register_fn("export_embeddings", move |model: ModelHandle, data: ManifestHandle| -> RhaiResult<String> {
        let path = s.borrow().run.borrow().path().join("embeddings").join(format!("{}.safetensors", data.0.split));
        let inputs = embed_pairs(&model.0, &data.0).map_err(rt)?;
        let mut tensors = Vec::new();
        for key in ["image_embeds", "text_embeds", "labels"] {
            if let Some(t) = inputs.get_opt(key) {
                tensors.push((key.to_string(), t.shallow_clone()));
            }
        }
        crate::checkpoint::write_tensors(&path, &tensors, None).map_err(rt)?;
        Ok(path.display().to_string())
    });

    // The vocabulary of a manifest: every caption of every example.
    engine.register_fn("fit", |t: &mut TokenizerHandle, data: ManifestHandle| -> RhaiResult<()> {
        let loader = &data.0.loader;
        let captions: Vec<String> = (0..loader.len()).filter_map(|i| loader.record(i)).flat_map(|r| r.captions.iter().cloned()).collect();
        if captions.is_empty() {
            return Err(rt(format!("tokenizer fit: {} has no captions", loader.name())));
        }
        t.0.borrow_mut().fit(&captions).map_err(rt)
    });

    let s = session.clone();
    engine.register_fn(
        "evaluate",
        move |ctx: NativeCallContext, model: ModelHandle, data: ManifestHandle, metrics: Array| -> RhaiResult<Map> {
            let handles = metric_handles(metrics)?;
            let inputs = embed_pairs(&model.0, &data.0).map_err(rt)?;
            report_skipped(&s, &data.0);
            let mut raw = Vec::new();
            for h in &handles {
                let metric: &dyn Metric = h.0.as_ref().as_ref();
                raw.extend(metric.compute(&inputs).map_err(rt)?);
            }
            let protocol = format!(
                "{} {}: {} image-caption pairs (first caption of each example, no augmentation); retrieval relevance = same example",
                data.0.loader.name(),
                data.0.split,
                inputs.get("image_embeds").map_err(rt)?.size()[0]
            );
            finish_evaluation(&s, &ctx, raw, &protocol, &data.0.split)
        },
    );
}
