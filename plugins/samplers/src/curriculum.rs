//! `curriculum`: which examples an epoch visits depends on how far training is.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::{Error, Result, Sampler, SamplerContext};
use rand::seq::SliceRandom;

use crate::{config_error, epoch_rng};

/// One stage of a curriculum. It applies while `epoch / epochs < until`; its filters
/// combine (an example must pass every one that is set).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct Phase {
    /// End of the phase as a fraction of the planned epochs (exclusive).
    pub until: f64,
    /// Only examples whose difficulty score is at most this (needs per-example
    /// difficulty from the dataset).
    pub max_difficulty: Option<f64>,
    /// Only examples with one of these class labels.
    pub labels: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct CurriculumConfig {
    /// Phases in order of `until` (strictly increasing). After the last one, and with
    /// none, every example is visited.
    pub phases: Vec<Phase>,
}

/// Each epoch: the examples the current phase admits, each once, shuffled by
/// (seed, epoch). E.g. `phases: [{until: 0.3, max_difficulty: 0.2}, {until: 0.6,
/// max_difficulty: 0.5}]` trains on easy examples for the first 30% of epochs, adds
/// medium ones until 60%, then uses all.
#[derive(Debug)]
pub struct Curriculum {
    phases: Vec<Phase>,
}

impl Curriculum {
    pub fn new(cfg: &CurriculumConfig) -> Result<Self> {
        let mut previous = 0.0;
        for (i, phase) in cfg.phases.iter().enumerate() {
            if !(phase.until.is_finite() && phase.until > previous) {
                return Err(config_error("curriculum", &format!("phases[{i}].until"), format!("must be finite and greater than {previous} (the previous phase's end), got {}", phase.until)));
            }
            previous = phase.until;
            if phase.max_difficulty.is_some_and(|d| !d.is_finite()) {
                return Err(config_error("curriculum", &format!("phases[{i}].max_difficulty"), "must be finite"));
            }
            if phase.labels.as_ref().is_some_and(Vec::is_empty) {
                return Err(config_error("curriculum", &format!("phases[{i}].labels"), "must list at least one label"));
            }
        }
        Ok(Self { phases: cfg.phases.clone() })
    }

    /// The phase (index and filters) that applies at the start of `ctx.epoch`, if any.
    pub fn phase(&self, ctx: &SamplerContext) -> Option<(usize, &Phase)> {
        let fraction = if ctx.epochs == 0 { 0.0 } else { ctx.epoch as f64 / ctx.epochs as f64 };
        self.phases.iter().enumerate().find(|(_, p)| fraction < p.until)
    }
}

impl Sampler for Curriculum {
    fn epoch_order(&self, ctx: &SamplerContext) -> Result<Vec<usize>> {
        let mut order: Vec<usize> = (0..ctx.len).collect();
        if let Some((i, phase)) = self.phase(ctx) {
            if let Some(max) = phase.max_difficulty {
                let scores = ctx.difficulty.as_ref().filter(|d| d.len() >= ctx.len).ok_or_else(|| {
                    Error::other(format!("sampler `curriculum`: phases[{i}].max_difficulty needs a difficulty score per example, which this dataset does not provide"))
                })?;
                order.retain(|&e| scores[e] <= max);
            }
            if let Some(allowed) = &phase.labels {
                let labels = ctx.labels.as_ref().filter(|l| l.len() >= ctx.len).ok_or_else(|| {
                    Error::other(format!("sampler `curriculum`: phases[{i}].labels needs class labels, which this dataset does not have"))
                })?;
                order.retain(|&e| allowed.contains(&labels[e]));
            }
            if order.is_empty() && ctx.len > 0 {
                return Err(Error::other(format!("sampler `curriculum`: phases[{i}] admits no example of the {} in the dataset", ctx.len)));
            }
        }
        order.shuffle(&mut epoch_rng(ctx.seed, ctx.epoch));
        Ok(order)
    }
}
