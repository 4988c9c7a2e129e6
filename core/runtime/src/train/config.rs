//! The `train:` section and the learning-rate schedules.
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::optim::{OptimSettings, OptimizerKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Linear warm-up, then cosine decay to 0 at the last step.
    Cosine,
    /// Linear warm-up, then `lr · gamma^(epoch / step_epochs)`.
    Step,
    /// Linear warm-up, then constant.
    Constant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Fp32,
    /// bf16 autocast for the forward pass (CUDA only; fp32 master weights).
    Bf16,
}

/// `train.step_threads`: how many threads run one CPU step's towers, each on a slice of
/// the batch with one libtorch thread. `auto` takes libtorch's thread count when both
/// encoders can be replicated ([`plexus_plugin::Encoder::replica`]) and the model is on
/// the CPU, else 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepThreads {
    #[default]
    Auto,
    Count(usize),
}

impl Serialize for StepThreads {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Auto => s.serialize_str("auto"),
            Self::Count(n) => s.serialize_u64(*n as u64),
        }
    }
}

impl<'de> Deserialize<'de> for StepThreads {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = StepThreads;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`auto` or a thread count >= 1")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> std::result::Result<StepThreads, E> {
                if n == 0 {
                    return Err(E::custom("must be `auto` or a thread count >= 1, got 0"));
                }
                Ok(StepThreads::Count(n as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> std::result::Result<StepThreads, E> {
                u64::try_from(n).map_err(|_| E::custom(format!("must be `auto` or a thread count >= 1, got {n}"))).and_then(|n| self.visit_u64(n))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<StepThreads, E> {
                match s {
                    "auto" => Ok(StepThreads::Auto),
                    other => Err(E::custom(format!("must be `auto` or a thread count >= 1, got {other:?}"))),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    /// Examples per optimiser step.
    pub batch_size: usize,
    /// Split each batch into this many micro-batches whose gradients are summed.
    pub accumulate: usize,
    pub optimizer: OptimizerKind,
    /// Peak learning rate.
    pub lr: f64,
    pub schedule: Schedule,
    pub warmup_steps: usize,
    /// For `schedule: step`: decay every `step_epochs` epochs by `gamma`.
    pub step_epochs: usize,
    pub gamma: f64,
    /// Decoupled weight decay (AdamW) or L2 (SGD), on matrices only.
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// SGD momentum and Nesterov.
    pub momentum: f64,
    pub nesterov: bool,
    /// Global gradient-norm clip; 0 disables it.
    pub grad_clip_norm: f64,
    pub precision: Precision,
    /// Log a `metrics.jsonl` line every N steps (0: only epochs).
    pub log_every: usize,
    /// Also checkpoint every N steps (0: only at the end of each epoch).
    pub checkpoint_every: usize,
    /// Threads that share one CPU step (see [`StepThreads`]).
    pub step_threads: StepThreads,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 256,
            accumulate: 1,
            optimizer: OptimizerKind::Adamw,
            lr: 1e-3,
            schedule: Schedule::Cosine,
            warmup_steps: 100,
            step_epochs: 1,
            gamma: 0.1,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-6,
            momentum: 0.9,
            nesterov: false,
            grad_clip_norm: 0.0,
            precision: Precision::Fp32,
            log_every: 50,
            checkpoint_every: 0,
            step_threads: StepThreads::Auto,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Other(format!("train: {m}")));
        if self.epochs == 0 {
            return bad("epochs must be >= 1");
        }
        if self.accumulate == 0 || self.batch_size < 2 * self.accumulate {
            return bad("batch_size must be >= 2 × accumulate (each micro-batch needs 2 examples), accumulate >= 1");
        }
        if !(self.lr > 0.0) || !self.lr.is_finite() {
            return bad("lr must be a positive number");
        }
        if self.schedule == Schedule::Step && self.step_epochs == 0 {
            return bad("step_epochs must be >= 1 for schedule: step");
        }
        Ok(())
    }

    pub fn optim_settings(&self) -> OptimSettings {
        OptimSettings {
            kind: self.optimizer,
            weight_decay: self.weight_decay,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            momentum: self.momentum,
            nesterov: self.nesterov,
        }
    }

    /// Learning rate at `step` of `total`, during `epoch`.
    pub fn lr_at(&self, step: usize, total: usize, epoch: usize) -> f64 {
        let peak = self.lr;
        if step < self.warmup_steps {
            return peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        match self.schedule {
            Schedule::Constant => peak,
            Schedule::Step => peak * self.gamma.powi((epoch / self.step_epochs) as i32),
            Schedule::Cosine => {
                let span = total.saturating_sub(self.warmup_steps).max(1) as f64;
                let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
                0.5 * peak * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_then_decays_to_zero() {
        let c = TrainConfig { lr: 1.0, warmup_steps: 10, ..Default::default() };
        assert!((c.lr_at(0, 100, 0) - 0.1).abs() < 1e-12);
        assert!((c.lr_at(9, 100, 0) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(10, 100, 0) - 1.0).abs() < 1e-12);
        assert!(c.lr_at(55, 100, 0) < 0.6);
        assert!(c.lr_at(100, 100, 0).abs() < 1e-12);
    }

    #[test]
    fn step_schedule_decays_per_epochs() {
        let c = TrainConfig { lr: 1.0, warmup_steps: 0, schedule: Schedule::Step, step_epochs: 2, gamma: 0.5, ..Default::default() };
        assert_eq!(c.lr_at(5, 100, 1), 1.0);
        assert_eq!(c.lr_at(5, 100, 2), 0.5);
        assert_eq!(c.lr_at(5, 100, 5), 0.25);
    }

    #[test]
    fn validation_names_the_problem() {
        let c = TrainConfig { batch_size: 4, accumulate: 4, ..Default::default() };
        assert!(c.validate().unwrap_err().to_string().contains("accumulate"));
    }
}
