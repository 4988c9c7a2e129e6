//! WebDataset shards in scripts: `dataset("webdataset", #{shards: "data/x/shard-{000..009}.tar", ...})`
//! returns the same `ManifestDataset` as `dataset("manifest", ...)` (so `train_epoch`,
//! `batches`, `evaluate`, `tok.fit` and `skipped` work unchanged), whose own epoch order
//! (`batches(epoch, size)`) shuffles whole shards and then examples through a buffer.
use std::path::PathBuf;
use std::rc::Rc;

use rhai::Dynamic;
use serde::{Deserialize, Serialize};

use super::api_config::hparams_of;
use super::api_manifest::{ManifestDataset, ManifestHandle};
use super::convert::{rt, RhaiResult};
use crate::data::{expand_braces, open_shards, AudioConfig, ImageConfig, Loader, LoaderConfig, OnError};

/// One pattern with `{a..b}` ranges, or a list of shard paths (each may have ranges too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum ShardList {
    One(String),
    Many(Vec<String>),
}

impl Default for ShardList {
    fn default() -> Self {
        ShardList::Many(vec![])
    }
}

/// `dataset("webdataset", cfg)` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct WebDatasetConfig {
    /// Shard files, relative to the working directory.
    shards: ShardList,
    /// A name for messages and summary keys.
    split: String,
    /// Use only the first N examples in shard order (0 = all).
    limit: usize,
    workers: usize,
    prefetch: usize,
    /// Shuffle shards and examples every epoch (otherwise stream order).
    shuffle: bool,
    /// Examples held by the within-shard shuffle buffer (1 = shard order only).
    shuffle_buffer: usize,
    augment: bool,
    on_error: OnError,
    image: ImageConfig,
    audio: AudioConfig,
}

impl Default for WebDatasetConfig {
    fn default() -> Self {
        let l = LoaderConfig::default();
        Self {
            shards: ShardList::default(),
            split: "train".into(),
            limit: 0,
            workers: l.workers,
            prefetch: l.prefetch,
            shuffle: l.shuffle,
            shuffle_buffer: 1000,
            augment: l.augment,
            on_error: l.on_error,
            image: l.image,
            audio: l.audio,
        }
    }
}

/// Indexes the shards and builds the dataset's loaders; `cap` bounds the examples kept
/// (for `plexus check`).
pub fn load(cfg: &Dynamic, cap: Option<usize>, seed: u64) -> RhaiResult<ManifestHandle> {
    let c: WebDatasetConfig = hparams_of(cfg, "dataset `webdataset`")?.parse().map_err(rt)?;
    let patterns = match &c.shards {
        ShardList::One(p) => vec![p.clone()],
        ShardList::Many(ps) => ps.clone(),
    };
    if patterns.is_empty() {
        return Err(rt("dataset `webdataset`: `shards` is required (e.g. \"data/x/shard-{000..009}.tar\" or a list of .tar paths)"));
    }
    let mut paths = Vec::new();
    for p in &patterns {
        paths.extend(expand_braces(p).map_err(rt)?.into_iter().map(PathBuf::from));
    }
    let mut shards = open_shards(&patterns.join(","), &paths).map_err(rt)?;
    let limit = match (c.limit, cap) {
        (0, cap) => cap.unwrap_or(usize::MAX),
        (l, cap) => l.min(cap.unwrap_or(usize::MAX)),
    };
    if limit < shards.manifest.records.len() {
        shards.manifest.records.truncate(limit);
        shards.ranges.retain(|r| r.start < limit);
        if let Some(last) = shards.ranges.last_mut() {
            last.end = last.end.min(limit);
        }
    }
    let loader_cfg = LoaderConfig {
        workers: c.workers,
        prefetch: c.prefetch,
        shuffle: c.shuffle,
        augment: c.augment,
        on_error: c.on_error,
        image: c.image,
        audio: c.audio,
        ..LoaderConfig::default()
    };
    let manifest = &shards.manifest;
    let loader = Loader::new(manifest, loader_cfg.clone(), seed).and_then(|l| l.with_shards(shards.ranges.clone(), c.shuffle_buffer)).map_err(rt)?;
    let eval_loader = Loader::new(manifest, LoaderConfig { augment: false, shuffle: false, ..loader_cfg }, seed).map_err(rt)?;
    let modalities = manifest.modalities();
    Ok(ManifestHandle(Rc::new(ManifestDataset { split: c.split, loader, eval_loader, modalities })))
}
