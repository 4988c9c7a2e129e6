//! A parallel, deterministic loader over manifest records.
//!
//! Batch `k` of an epoch is decoded by worker `k % workers`, which sends it through its
//! own bounded channel (the prefetch queue); the consumer reads the channels round-robin,
//! so batches arrive in order without a reorder buffer. The example order depends only
//! on (seed, epoch), and every random choice for an example (caption, crop, flip) comes
//! from an RNG seeded by (seed, epoch, index). Order and content are therefore the same
//! for any number of workers.
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use plexus_plugin::Modality;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::audio::{AudioConfig, LogMel};
use super::collate::{collate, Layout, LoadedBatch};
use super::example::{Decoded, Record};
use super::image_file::ImageConfig;
use super::manifest::Manifest;
use super::video::VideoConfig;
use crate::error::{Error, Result};

/// What to do with an example whose file cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop the epoch with an error naming the manifest line, the file and the reason.
    #[default]
    Fail,
    /// Leave the example out of its batch (which is then smaller) and record it.
    Skip,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Decode threads.
    pub workers: usize,
    /// Decoded batches held ahead of the consumer, over all workers (at least one each).
    pub prefetch: usize,
    /// Reshuffle the order every epoch (otherwise manifest order).
    pub shuffle: bool,
    /// Random crop/flip (as the image config allows) and random caption choice; without
    /// it crops are centred and the first caption is used.
    pub augment: bool,
    /// Leave out the last batch when it is smaller than `batch_size`.
    pub drop_last: bool,
    pub on_error: OnError,
    pub image: ImageConfig,
    pub audio: AudioConfig,
    pub video: VideoConfig,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            workers: 2,
            prefetch: 4,
            shuffle: true,
            augment: true,
            drop_last: false,
            on_error: OnError::Fail,
            image: ImageConfig::default(),
            audio: AudioConfig::default(),
            video: VideoConfig::default(),
        }
    }
}

/// An example left out under `on_error: skip`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Skipped {
    pub index: usize,
    /// Manifest line of the example.
    pub line: usize,
    pub file: String,
    pub reason: String,
}

/// Decodes one record; shared by the workers.
struct Decoder {
    image: ImageConfig,
    mel: Option<LogMel>,
    video: Option<VideoConfig>,
    augment: bool,
    seed: u64,
}

impl Decoder {
    /// On failure, returns the file that failed and why.
    fn decode(&self, r: &Record, index: usize, epoch: usize) -> std::result::Result<Decoded, (String, String)> {
        let mut rng = ChaCha8Rng::seed_from_u64(example_seed(self.seed, epoch, index));
        let mut d = Decoded::empty(index);
        d.caption = match r.captions.len() {
            0 => None,
            n if self.augment => Some(r.captions[rng.gen_range(0..n)].clone()),
            _ => Some(r.captions[0].clone()),
        };
        if let Some(at) = &r.image {
            d.image = Some(self.image.load_at(at, self.augment, &mut rng).map_err(|e| (at.display(), e.to_string()))?);
        }
        if let (Some(at), Some(mel)) = (&r.audio, &self.mel) {
            d.audio = Some(mel.load_at(at).map_err(|e| (at.display(), e.to_string()))?);
        }
        if let (Some(at), Some(video)) = (&r.video, &self.video) {
            // ffmpeg reads files; the WebDataset reader refuses video members up front.
            let path = at.as_path().ok_or_else(|| (at.display(), "video can only be read from a file of its own".to_string()))?;
            d.video = Some(video.load(path).map_err(|e| (at.display(), e.to_string()))?);
        }
        d.label = r.label;
        d.question = r.question.clone();
        d.answer = r.answer.clone();
        Ok(d)
    }
}

pub struct Loader {
    name: String,
    records: Arc<Vec<Record>>,
    /// Record ranges of the tar shards (WebDataset), each in stream order; empty for a
    /// manifest. With shards, an epoch shuffles whole shards and then examples through a
    /// bounded buffer, so that reads stay sequential within a shard.
    shards: Vec<Range<usize>>,
    shuffle_buffer: usize,
    cfg: LoaderConfig,
    decoder: Arc<Decoder>,
    layout: Layout,
    seed: u64,
    skipped: Arc<Mutex<BTreeMap<usize, Skipped>>>,
}

impl Loader {
    pub fn new(manifest: &Manifest, cfg: LoaderConfig, seed: u64) -> Result<Self> {
        let name = manifest.path.display().to_string();
        if cfg.batch_size == 0 || cfg.workers == 0 {
            return Err(Error::Data(format!("{name}: loader `batch_size` and `workers` must be at least 1")));
        }
        cfg.image.validate()?;
        let modalities = manifest.modalities();
        let has_audio = modalities.contains(&Modality::Audio);
        let has_video = modalities.contains(&Modality::Video);
        if has_video {
            cfg.video.validate()?;
        }
        let layout = Layout {
            image: modalities.contains(&Modality::Image).then(|| cfg.image.shape()),
            audio: has_audio.then_some([cfg.audio.n_mels, cfg.audio.frames]),
            video: has_video.then(|| cfg.video.shape()),
            labels: manifest.records.iter().any(|r| r.label.is_some()),
        };
        let mel = if has_audio { Some(LogMel::new(&cfg.audio)?) } else { None };
        let video = has_video.then(|| cfg.video.clone());
        let decoder = Decoder { image: cfg.image.clone(), mel, video, augment: cfg.augment, seed };
        Ok(Self {
            name,
            records: Arc::new(manifest.records.clone()),
            shards: vec![],
            shuffle_buffer: 0,
            cfg,
            decoder: Arc::new(decoder),
            layout,
            seed,
            skipped: Arc::default(),
        })
    }

    /// Orders epochs by shard (see [`shard_order`]): `shards` are record ranges that
    /// cover the records in order; `buffer` is the shuffle buffer's size in examples.
    pub fn with_shards(mut self, shards: Vec<Range<usize>>, buffer: usize) -> Result<Self> {
        let covered = shards.iter().try_fold(0, |next, r| (r.start == next && r.end >= r.start).then_some(r.end));
        if covered != Some(self.records.len()) {
            return Err(Error::Data(format!("{}: shard ranges do not cover the {} examples in order", self.name, self.records.len())));
        }
        self.shards = shards;
        self.shuffle_buffer = buffer;
        Ok(self)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn config(&self) -> &LoaderConfig {
        &self.cfg
    }

    /// Examples skipped so far (every epoch), by dataset index; each appears once.
    pub fn skipped(&self) -> Vec<Skipped> {
        self.skipped.lock().map(|s| s.values().cloned().collect()).unwrap_or_default()
    }

    /// Dataset indices in the order of `epoch`.
    pub fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        if !self.shards.is_empty() {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed, 0x5a4d_0bad));
            rng.set_stream(epoch as u64);
            return shard_order(&self.shards, if self.cfg.shuffle { Some(&mut rng) } else { None }, self.shuffle_buffer);
        }
        let mut order: Vec<usize> = (0..self.records.len()).collect();
        if self.cfg.shuffle {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed, 0x0bad_5eed));
            rng.set_stream(epoch as u64);
            order.shuffle(&mut rng);
        }
        order
    }

    /// The manifest record of example `index`.
    pub fn record(&self, index: usize) -> Option<&Record> {
        self.records.get(index)
    }

    /// The manifest this loader reads (for messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts the workers for `epoch` and returns its batches in order.
    pub fn epoch(&self, epoch: usize) -> EpochIter {
        self.batches(epoch, self.epoch_order(epoch), self.cfg.batch_size)
    }

    /// Decodes `order` (dataset indices, e.g. a sampler's) in batches of `batch_size`
    /// as examples of `epoch`: content depends on (seed, epoch, index) only, so a tail
    /// of an epoch's order decodes exactly as it would within the whole epoch.
    pub fn batches(&self, epoch: usize, order: Vec<usize>, batch_size: usize) -> EpochIter {
        let order = Arc::new(order);
        let bs = batch_size.max(1);
        let total = if self.cfg.drop_last { order.len() / bs } else { order.len().div_ceil(bs) };
        let workers = self.cfg.workers.min(total.max(1));
        let depth = (self.cfg.prefetch / workers).max(1);
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel::<Result<Chunk>>(depth);
            receivers.push(rx);
            let (order, records, decoder, layout, on_error) =
                (order.clone(), self.records.clone(), self.decoder.clone(), self.layout, self.cfg.on_error);
            let name = self.name.clone();
            handles.push(std::thread::spawn(move || {
                for k in (w..total).step_by(workers) {
                    let ids = &order[k * bs..((k + 1) * bs).min(order.len())];
                    let chunk = decode_batch(&name, &records, &decoder, layout, on_error, ids, epoch);
                    let failed = chunk.is_err();
                    // A closed channel means the consumer stopped early: nothing left to do.
                    if tx.send(chunk).is_err() || failed {
                        return;
                    }
                }
            }));
        }
        EpochIter { receivers, handles, next: 0, total, done: false, skipped: self.skipped.clone() }
    }
}

struct Chunk {
    batch: LoadedBatch,
    skipped: Vec<Skipped>,
}

fn decode_batch(
    name: &str,
    records: &[Record],
    decoder: &Decoder,
    layout: Layout,
    on_error: OnError,
    ids: &[usize],
    epoch: usize,
) -> Result<Chunk> {
    let mut examples = Vec::with_capacity(ids.len());
    let mut skipped = Vec::new();
    for &i in ids {
        let r = records.get(i).ok_or_else(|| Error::Data(format!("{name}: example index {i} is out of range ({} examples)", records.len())))?;
        match decoder.decode(r, i, epoch) {
            Ok(d) => examples.push(d),
            Err((file, e)) => match on_error {
                OnError::Fail => return Err(Error::Data(format!("{name}:{} (example `{}`): {e}", r.line, r.id))),
                OnError::Skip => skipped.push(Skipped { index: i, line: r.line, file, reason: e }),
            },
        }
    }
    Ok(Chunk { batch: collate(&examples, &layout)?, skipped })
}

/// The batches of one epoch, in order. Dropping it stops the workers.
pub struct EpochIter {
    receivers: Vec<Receiver<Result<Chunk>>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    total: usize,
    done: bool,
    skipped: Arc<Mutex<BTreeMap<usize, Skipped>>>,
}

impl Iterator for EpochIter {
    type Item = Result<LoadedBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done && self.next < self.total {
            let k = self.next;
            self.next += 1;
            match self.receivers[k % self.receivers.len()].recv() {
                Ok(Ok(chunk)) => {
                    if let Ok(mut all) = self.skipped.lock() {
                        all.extend(chunk.skipped.into_iter().map(|s| (s.index, s)));
                    }
                    if !chunk.batch.is_empty() {
                        return Some(Ok(chunk.batch));
                    }
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Err(_) => {
                    self.done = true;
                    return Some(Err(Error::Data(format!("data loader: the worker for batch {k} stopped without a result (it panicked)"))));
                }
            }
        }
        None
    }
}

impl Drop for EpochIter {
    fn drop(&mut self) {
        // Closing the channels first makes every blocked worker's next send fail.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// WebDataset's epoch order: the shards in a random order, their examples streamed in
/// shard order through a buffer of `buffer` examples from which each next example is
/// drawn at random (`buffer` <= 1: no mixing within shards). Without `rng`, stream order.
pub fn shard_order(shards: &[Range<usize>], rng: Option<&mut ChaCha8Rng>, buffer: usize) -> Vec<usize> {
    let total = shards.last().map_or(0, |r| r.end);
    let Some(rng) = rng else { return (0..total).collect() };
    let mut picked: Vec<&Range<usize>> = shards.iter().collect();
    picked.shuffle(rng);
    let mut order = Vec::with_capacity(total);
    let mut held = Vec::with_capacity(buffer.max(1));
    for i in picked.into_iter().flat_map(|r| r.clone()) {
        held.push(i);
        if held.len() >= buffer.max(1) {
            let j = rng.gen_range(0..held.len());
            order.push(held.swap_remove(j));
        }
    }
    while !held.is_empty() {
        let j = rng.gen_range(0..held.len());
        order.push(held.swap_remove(j));
    }
    order
}

fn mix(a: u64, b: u64) -> u64 {
    // splitmix64's finaliser over the combined words: nearby inputs give unrelated seeds.
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The RNG seed of one example in one epoch.
pub fn example_seed(seed: u64, epoch: usize, index: usize) -> u64 {
    mix(mix(seed, epoch as u64), index as u64)
}
