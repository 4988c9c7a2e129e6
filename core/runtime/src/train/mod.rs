//! The training loop. Rhai decides what runs; every step runs here, in Rust.
//!
//! Reproducibility: the example order depends on (seed, epoch), caption templates on
//! (seed, epoch, position), and libtorch's RNG is reseeded from (seed, step) before each
//! step. With the optimiser state and the partial epoch loss in the checkpoint, a resumed
//! run therefore continues bit-identically.
mod config;
mod parallel;
mod source;

pub use config::{Precision, Schedule, StepThreads, TrainConfig};

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use plexus_plugin::{Loss, MaskingContext, Sampler, SamplerContext};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::checkpoint::{self, Checkpoint, TrainState};
use crate::data::{CaptionedImages, Loader};
use source::{gather, image_caption_pairs, Source};
use crate::error::{Error, Result};
use crate::model::DualEncoder;
use crate::optim::Optimizer;
use crate::run_dir::RunDir;

/// What one epoch did, for logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochStats {
    pub epoch: usize,
    pub steps: usize,
    pub loss: f64,
    pub lr: f64,
    pub seconds: f64,
    pub examples_per_second: f64,
}

/// Passed to step hooks after each optimiser step.
pub struct StepEvent<'a> {
    pub step: usize,
    pub epoch: usize,
    /// Detached scalar `[]` loss of the step (reading it syncs the device).
    pub loss: &'a Tensor,
    pub lr: f64,
}

pub struct Trainer {
    vs: nn::VarStore,
    model: Rc<DualEncoder>,
    loss: Rc<Box<dyn Loss>>,
    sampler: Rc<Box<dyn Sampler>>,
    optimizer: Optimizer,
    cfg: TrainConfig,
    seed: u64,
    state: TrainState,
    loss_sum: Tensor,
    checkpoint_dir: PathBuf,
    /// train_epoch calls so far (replayed ones included).
    calls: usize,
    last_saved_step: Option<usize>,
    /// `plexus check` trains only this many steps per epoch.
    max_steps_per_epoch: Option<usize>,
    /// True while a resumed script re-executes what the checkpoint already covers;
    /// shared with the session so that `log(...)` does not write those lines twice.
    replaying: Rc<Cell<bool>>,
    /// Seconds spent assembling batches (the data-wait part of step time; `make bench`).
    data_seconds: f64,
    /// Threads per step, `train.step_threads` resolved (see [`parallel`]).
    step_threads: usize,
}

fn mix(seed: u64, a: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(a).rotate_left(17) ^ 0xD1B5_4A32_D192_ED03
}

impl Trainer {
    /// Optimises every trainable variable in `vs` (so build components first). With
    /// `resume`, weights, optimiser state and loop position come from the checkpoint.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        vs: &nn::VarStore,
        model: Rc<DualEncoder>,
        loss: Rc<Box<dyn Loss>>,
        sampler: Rc<Box<dyn Sampler>>,
        cfg: TrainConfig,
        seed: u64,
        checkpoint_dir: PathBuf,
        resume: Option<Checkpoint>,
        replaying: Rc<Cell<bool>>,
    ) -> Result<Self> {
        cfg.validate()?;
        let step_threads = parallel::resolve_threads(cfg.step_threads, &model)?;
        if step_threads > 1 {
            tracing::info!("train.step_threads: {step_threads} threads share each step, one batch slice each");
        }
        let optimizer = Optimizer::new(vs, cfg.optim_settings());
        let device = model.device;
        let mut trainer = Self {
            vs: shallow_store(vs),
            model,
            loss,
            sampler,
            optimizer,
            cfg,
            seed,
            state: TrainState { step: 0, epoch: 0, batch_in_epoch: 0, history: vec![], metrics_bytes: 0 },
            loss_sum: Tensor::zeros([], (Kind::Float, device)),
            checkpoint_dir,
            calls: 0,
            last_saved_step: None,
            max_steps_per_epoch: None,
            replaying,
            data_seconds: 0.0,
            step_threads,
        };
        match resume {
            Some(ck) => trainer.restore(ck)?,
            None => trainer.replaying.set(false),
        }
        Ok(trainer)
    }

    fn restore(&mut self, ck: Checkpoint) -> Result<()> {
        let origin = self.checkpoint_dir.join("last.safetensors").display().to_string();
        let _guard = tch::no_grad_guard();
        for (name, mut var) in self.vs.variables() {
            let saved = ck.tensors.get(&format!("model.{name}")).ok_or_else(|| {
                Error::Other(format!("{origin}: no weights for `{name}` (the script builds a different model than the run did)"))
            })?;
            if saved.size() != var.size() {
                return Err(Error::Other(format!("{origin}: `{name}` has shape {:?}, the model needs {:?}", saved.size(), var.size())));
            }
            var.copy_(saved);
        }
        self.optimizer.load_state(&ck.tensors, &origin)?;
        if let Some(sum) = ck.tensors.get("train.loss_sum") {
            self.loss_sum = sum.to_device(self.model.device);
        }
        self.last_saved_step = Some(ck.state.step);
        self.state = ck.state;
        self.replaying.set(true);
        Ok(())
    }

    /// Caps every epoch at `steps` optimiser steps (for `plexus check`).
    pub fn limit_steps_per_epoch(&mut self, steps: usize) {
        self.max_steps_per_epoch = Some(steps);
    }

    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Threads that share each step (`train.step_threads` resolved).
    pub fn step_threads(&self) -> usize {
        self.step_threads
    }

    pub fn step(&self) -> usize {
        self.state.step
    }

    /// Total seconds this trainer has spent assembling batches (gather, captions,
    /// tokenize, to device); divided by step time it is the data-wait fraction.
    pub fn data_seconds(&self) -> f64 {
        self.data_seconds
    }

    pub fn parameter_names(&self) -> Vec<String> {
        self.optimizer.parameter_names()
    }

    pub fn optimizer_mut(&mut self) -> &mut Optimizer {
        &mut self.optimizer
    }

    /// Writes `checkpoints/last.safetensors` and `weights.safetensors` atomically.
    pub fn save_checkpoint(&mut self, run: &RunDir) -> Result<()> {
        std::fs::create_dir_all(&self.checkpoint_dir).map_err(|e| Error::io(&self.checkpoint_dir, e))?;
        let mut state = self.state.clone();
        state.metrics_bytes = run.metrics_len()?;
        let mut model: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        model.sort_by(|a, b| a.0.cmp(&b.0));
        checkpoint::save(&self.checkpoint_dir.join("last.safetensors"), &model, self.optimizer.state(), &self.loss_sum, &state)?;
        checkpoint::write_tensors(&run.path().join("weights.safetensors"), &model, None)?;
        self.last_saved_step = Some(self.state.step);
        Ok(())
    }

    /// One pass over `data` in the sampler's order. On a resumed run, epochs the
    /// checkpoint already covers return their recorded stats without training.
    pub fn train_epoch(
        &mut self,
        data: &CaptionedImages,
        run: &RefCell<RunDir>,
        on_step: &mut dyn FnMut(&StepEvent) -> Result<()>,
    ) -> Result<EpochStats> {
        self.run_epoch(Source::Captioned(data), run, on_step)
    }

    /// One pass over a manifest dataset (`split` names it in messages) in the sampler's
    /// order, the loader's workers decoding the batches ahead. Every example must have an
    /// image and a caption: a dual encoder trains on image–caption pairs. Under
    /// `on_error: skip` a batch loses its undecodable examples; one that loses all of them
    /// is not a step, so the epoch has fewer steps.
    pub fn train_epoch_files(
        &mut self,
        loader: &Loader,
        split: &str,
        run: &RefCell<RunDir>,
        on_step: &mut dyn FnMut(&StepEvent) -> Result<()>,
    ) -> Result<EpochStats> {
        self.run_epoch(Source::Files(loader, split), run, on_step)
    }

    fn run_epoch(&mut self, data: Source, run: &RefCell<RunDir>, on_step: &mut dyn FnMut(&StepEvent) -> Result<()>) -> Result<EpochStats> {
        if let Some(done) = self.state.history.get(self.calls).cloned() {
            self.calls += 1;
            if self.calls == self.state.history.len() && self.state.batch_in_epoch == 0 {
                self.replaying.set(false);
            }
            return Ok(done);
        }
        self.calls += 1;
        let started = Instant::now();
        let epoch = self.state.epoch;
        let ctx = SamplerContext::new(data.len(), epoch, self.cfg.epochs, self.seed);
        let ctx = match data.labels() {
            Some(labels) => ctx.with_labels(labels),
            None => ctx,
        };
        let ctx = match data.presence() {
            Some(bits) => ctx.with_presence(bits),
            None => ctx,
        };
        let order = self.sampler.epoch_order(&ctx)?;
        let templates: Vec<usize> = match data {
            Source::Captioned(data) => {
                let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed, 1));
                rng.set_stream(epoch as u64);
                order.iter().map(|_| rng.gen_range(0..data.templates.len())).collect()
            }
            Source::Files(..) => vec![],
        };
        let batches: Vec<(usize, &[usize])> = order
            .chunks(self.cfg.batch_size)
            .enumerate()
            .filter(|(_, b)| b.len() >= 2 * self.cfg.accumulate)
            .take(self.max_steps_per_epoch.unwrap_or(usize::MAX))
            .collect();
        if batches.is_empty() {
            return Err(Error::Data(format!("{}: no batch of at least {} examples to train on", data.describe(), 2 * self.cfg.accumulate)));
        }
        // A manifest's loader decodes the batches this call still runs, in order.
        let mut decoded = match data {
            Source::Files(loader, _) => {
                let planned: usize = batches.iter().map(|(_, b)| b.len()).sum();
                let rest = order[self.state.batch_in_epoch * self.cfg.batch_size..planned].to_vec();
                Some(loader.batches(epoch, rest, self.cfg.batch_size))
            }
            Source::Captioned(_) => None,
        };
        let total = self.cfg.epochs * batches.len();
        let mut lr = self.cfg.lr;
        let bar = progress_bar(batches.len(), epoch, self.state.batch_in_epoch);
        // Split steps: this thread's intra-op pool would spin on the step threads' cores.
        // Step hooks run at one thread too; evaluation after the epoch gets them all back.
        let caller_threads = (self.step_threads > 1).then(parallel::OneIntraOpThread::enter);
        for &(index, batch) in batches.iter().skip(self.state.batch_in_epoch) {
            let every = self.cfg.checkpoint_every;
            if every > 0 && self.state.step % every == 0 && self.last_saved_step != Some(self.state.step) {
                self.save_checkpoint(&run.borrow())?;
            }
            self.replaying.set(false);
            lr = self.cfg.lr_at(self.state.step, total, epoch);
            // Batch assembly (what the step waits for): gather or decode, captions.
            let waited = Instant::now();
            let (images, captions, labels) = match (&data, decoded.as_mut()) {
                (Source::Captioned(data), _) => {
                    let start = index * self.cfg.batch_size;
                    gather(data, batch, &templates[start..start + batch.len()])
                }
                (Source::Files(loader, _), Some(batches)) => match batches.next() {
                    Some(b) => image_caption_pairs(loader, b?)?,
                    None => break,
                },
                (Source::Files(..), None) => return Err(Error::Other("internal: a manifest epoch without its loader iterator".into())),
            };
            self.data_seconds += waited.elapsed().as_secs_f64();
            let loss = self.train_step(&images, &captions, labels.as_ref(), lr, total)?;
            self.loss_sum += &loss;
            self.state.step += 1;
            self.state.batch_in_epoch += 1;
            bar.inc(1);
            if self.cfg.log_every > 0 && self.state.step % self.cfg.log_every == 0 {
                let value = loss.double_value(&[]);
                bar.set_message(format!("loss {value:.4}"));
                bar.suspend(|| tracing::info!("step {} loss {value:.4}", self.state.step));
                run.borrow_mut().log_metrics(&serde_json::json!({"step": self.state.step, "epoch": epoch, "train/loss": value, "train/lr": lr}))?;
            }
            on_step(&StepEvent { step: self.state.step, epoch, loss: &loss, lr })?;
        }
        drop(caller_threads);
        bar.finish_and_clear();
        let steps = self.state.batch_in_epoch;
        let seconds = started.elapsed().as_secs_f64();
        let stats = EpochStats {
            epoch,
            steps,
            loss: self.loss_sum.double_value(&[]) / steps as f64,
            lr,
            seconds,
            examples_per_second: (steps * self.cfg.batch_size) as f64 / seconds,
        };
        run.borrow_mut().log_metrics(&serde_json::json!({
            "step": self.state.step, "epoch": epoch, "train/epoch_loss": stats.loss,
            "train/examples_per_second": stats.examples_per_second, "train/epoch_seconds": stats.seconds,
        }))?;
        self.state.history.push(stats.clone());
        self.state.epoch += 1;
        self.state.batch_in_epoch = 0;
        self.loss_sum = self.loss_sum.zeros_like();
        self.save_checkpoint(&run.borrow())?;
        Ok(stats)
    }

    /// One optimiser step over `images` `[B, C, H, W]` (on the CPU), their `captions` and
    /// labels `[B]` when every example has one (split into micro-batches), at step
    /// `self.state.step` of `total_steps`; returns the detached loss `[]`.
    fn train_step(&mut self, all_images: &Tensor, all_captions: &[String], all_labels: Option<&Tensor>, lr: f64, total_steps: usize) -> Result<Tensor> {
        tch::manual_seed(mix(self.seed, self.state.step as u64) as i64);
        self.optimizer.zero_grad();
        let micro = all_captions.len().div_ceil(self.cfg.accumulate);
        let parts = all_captions.chunks(micro).len();
        let autocast = self.cfg.precision == Precision::Bf16 && self.model.device.is_cuda();
        let mut total = Tensor::zeros([], (Kind::Float, self.model.device));
        let progress = self.state.step as f64 / total_steps.max(1) as f64;
        let at = MaskingContext::new(self.state.epoch, self.cfg.epochs, self.state.step, progress.min(1.0), self.seed);
        for (k, captions) in all_captions.chunks(micro).enumerate() {
            // The rest of batch assembly: slice, tokenize, to device.
            let waited = Instant::now();
            let images = all_images.narrow(0, (k * micro) as i64, captions.len() as i64).to_device(self.model.device); // [b, C, H, W]
            let tokens = self.model.tokenize(captions)?; // [b, L]
            let labels = all_labels.map(|l| l.narrow(0, (k * micro) as i64, captions.len() as i64)); // [b]
            self.data_seconds += waited.elapsed().as_secs_f64();
            if self.step_threads > 1 {
                let sharded = parallel::forward(&self.model, &images, &tokens, self.step_threads)?;
                let (image, text) = sharded.joined(); // [b, D] leaves
                let inputs = self.model.loss_inputs_from(&image, &text, labels.as_ref(), &at, true)?;
                let scaled = self.loss.compute(&inputs, true)?.loss / parts as f64;
                scaled.backward(); // into the leaves and the loss's own parameters
                total += scaled.detach();
                let params: Vec<Tensor> = self.vs.trainable_variables().into_iter().filter(Tensor::requires_grad).collect();
                parallel::backward(sharded, &params)?;
                continue;
            }
            let out = tch::autocast(autocast, || -> Result<_> {
                // image_embeds, text_embeds [b, D]; fused_embeds [b, D_f] with a fusion; labels [b]
                let inputs = self.model.loss_inputs(&images, &tokens, labels.as_ref(), &at, true)?;
                Ok(self.loss.compute(&inputs, true)?)
            })?;
            let scaled = out.loss / parts as f64;
            scaled.backward();
            total += scaled.detach();
        }
        if self.cfg.grad_clip_norm > 0.0 {
            self.optimizer.clip_grad_norm(self.cfg.grad_clip_norm);
        }
        // On the step threads: its per-parameter kernels are too small to split any other way.
        self.optimizer.step_on_threads(lr, self.step_threads);
        Ok(total)
    }
}

/// A progress bar on a terminal; hidden otherwise (the periodic `step N loss` log lines
/// are the plain-text progress then).
fn progress_bar(len: usize, epoch: usize, done: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64).with_prefix(format!("epoch {epoch}"));
    if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} steps {msg} [{elapsed}<{eta}]") {
        bar.set_style(style);
    }
    bar.set_position(done as u64);
    bar
}

/// A second handle on the same variables (VarStore is not Clone; its storage is shared).
fn shallow_store(vs: &nn::VarStore) -> nn::VarStore {
    let mut copy = nn::VarStore::new(vs.device());
    copy.variables_ = vs.variables_.clone();
    copy
}
