//! The training loop. Rhai decides what runs; every step runs here, in Rust.
use std::rc::Rc;
use std::time::Instant;

use plexus_plugin::{Loss, Sampler, SamplerContext, TensorMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{nn, nn::OptimizerConfig, Kind, Tensor};

use crate::data::CaptionedImages;
use crate::error::{Error, Result};
use crate::model::DualEncoder;
use crate::run_dir::RunDir;

/// The `train:` section of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate of AdamW.
    pub lr: f64,
    /// Decoupled weight decay, applied to matrices only (not gains, biases or scales).
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Linear warm-up steps before the cosine decay.
    pub warmup_steps: usize,
    /// Global gradient-norm clip; 0 disables it.
    pub grad_clip_norm: f64,
    /// Log a `metrics.jsonl` line every N steps.
    pub log_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 256,
            lr: 1e-3,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-6,
            warmup_steps: 100,
            grad_clip_norm: 0.0,
            log_every: 50,
        }
    }
}

/// Learning rate at `step`: linear warm-up to `peak`, then cosine decay to 0 at `total`.
pub fn lr_at(step: usize, peak: f64, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).min(1.0);
    0.5 * peak * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// What one epoch did, for logging.
#[derive(Debug, Clone, Serialize)]
pub struct EpochStats {
    pub epoch: usize,
    pub steps: usize,
    pub loss: f64,
    pub lr: f64,
    pub seconds: f64,
    pub examples_per_second: f64,
}

pub struct Trainer {
    model: Rc<DualEncoder>,
    loss: Rc<Box<dyn Loss>>,
    sampler: Rc<Box<dyn Sampler>>,
    optimizer: nn::Optimizer,
    cfg: TrainConfig,
    seed: u64,
    pub step: usize,
    pub epoch: usize,
}

impl Trainer {
    /// Optimises every trainable variable in `vs` (so build components first).
    pub fn new(
        vs: &nn::VarStore,
        model: Rc<DualEncoder>,
        loss: Rc<Box<dyn Loss>>,
        sampler: Rc<Box<dyn Sampler>>,
        cfg: TrainConfig,
        seed: u64,
    ) -> Result<Self> {
        if cfg.batch_size < 2 || cfg.epochs == 0 || !(cfg.lr > 0.0) {
            return Err(Error::Other("train: batch_size must be >= 2, epochs >= 1 and lr > 0".into()));
        }
        // Group 1 = vectors and scalars (gains, biases, logit scale): no weight decay.
        for var in vs.variables_.lock().expect("var store lock").trainable_variables.iter_mut() {
            var.group = usize::from(var.tensor.dim() < 2);
        }
        let mut optimizer = nn::AdamW { beta1: cfg.beta1, beta2: cfg.beta2, wd: cfg.weight_decay, eps: cfg.eps, amsgrad: false }
            .build(vs, cfg.lr)?;
        optimizer.set_weight_decay_group(1, 0.0);
        Ok(Self { model, loss, sampler, optimizer, cfg, seed, step: 0, epoch: 0 })
    }

    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    fn total_steps(&self, len: usize) -> usize {
        self.cfg.epochs * len.div_ceil(self.cfg.batch_size)
    }

    /// One pass over `data` in the sampler's order; logs every `log_every` steps.
    pub fn train_epoch(&mut self, data: &CaptionedImages, run: &mut RunDir) -> Result<EpochStats> {
        let started = Instant::now();
        let ctx = SamplerContext::new(data.len(), self.epoch, self.cfg.epochs, self.seed).with_labels(data.labels.clone());
        let order = self.sampler.epoch_order(&ctx)?;
        let total = self.total_steps(order.len());
        // Caption templates are drawn per example, reproducibly from (seed, epoch).
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5eed_ca97);
        rng.set_stream(self.epoch as u64);
        let mut loss_sum = Tensor::zeros([], (Kind::Float, self.model.device));
        let mut steps = 0;
        let mut lr = self.cfg.lr;
        for batch in order.chunks(self.cfg.batch_size).filter(|b| b.len() >= 2) {
            lr = lr_at(self.step, self.cfg.lr, self.cfg.warmup_steps, total);
            self.optimizer.set_lr(lr);
            let index = Tensor::from_slice(&batch.iter().map(|&i| i as i64).collect::<Vec<_>>());
            let images = data.images.index_select(0, &index); // [B, C, H, W]
            let captions: Vec<String> = batch
                .iter()
                .map(|&i| data.caption(data.labels[i], rng.gen_range(0..data.templates.len())))
                .collect();
            let inputs = TensorMap::new()
                .with("image_embeds", &self.model.embed_images(&images, true)?) // [B, D]
                .with("text_embeds", &self.model.embed_texts(&captions, true)?); // [B, D]
            let out = self.loss.compute(&inputs, true)?;
            self.optimizer.zero_grad();
            out.loss.backward();
            if self.cfg.grad_clip_norm > 0.0 {
                self.optimizer.clip_grad_norm(self.cfg.grad_clip_norm);
            }
            self.optimizer.step();
            loss_sum += out.loss.detach();
            steps += 1;
            self.step += 1;
            if self.cfg.log_every > 0 && self.step % self.cfg.log_every == 0 {
                let mut record = serde_json::json!({
                    "step": self.step, "epoch": self.epoch, "train/loss": out.loss.double_value(&[]), "train/lr": lr,
                });
                for (name, value) in &out.logs {
                    record[format!("train/{name}")] = serde_json::json!(value.double_value(&[]));
                }
                tracing::info!("step {} loss {:.4}", self.step, record["train/loss"].as_f64().unwrap_or(f64::NAN));
                run.log_metrics(&record)?;
            }
        }
        if steps == 0 {
            return Err(Error::Data(format!("{} {}: no batch of at least 2 examples to train on", data.name, data.split)));
        }
        let seconds = started.elapsed().as_secs_f64();
        let stats = EpochStats {
            epoch: self.epoch,
            steps,
            loss: loss_sum.double_value(&[]) / steps as f64,
            lr,
            seconds,
            examples_per_second: order.len() as f64 / seconds,
        };
        self.epoch += 1;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::lr_at;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        assert!((lr_at(0, 1.0, 10, 100) - 0.1).abs() < 1e-12);
        assert!((lr_at(9, 1.0, 10, 100) - 1.0).abs() < 1e-12);
        assert!((lr_at(10, 1.0, 10, 100) - 1.0).abs() < 1e-12);
        assert!(lr_at(55, 1.0, 10, 100) < 0.6);
        assert!(lr_at(100, 1.0, 10, 100).abs() < 1e-12);
    }
}
