//! `modality_balanced`: every epoch draws each group of examples (a modality combination,
//! or a class) at a target share, whatever its share of the dataset.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::{Error, Modality, Result, Sampler, SamplerContext};
use rand::seq::SliceRandom;
use std::collections::BTreeMap;

use crate::{config_error, epoch_rng};

/// One group's share of an epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct GroupTarget {
    /// With `group_by: modalities`, the modality names joined by `+` in the order image,
    /// text, audio, video (e.g. `image+text`, `audio`); with `group_by: label`, the class
    /// label (e.g. `"3"`).
    pub group: String,
    /// Relative share (normalised over the listed groups).
    pub ratio: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct BalancedConfig {
    /// `modalities`: group by the set of modalities an example has (a dataset that does
    /// not report presence is one group); `label`: group by class label.
    pub group_by: String,
    /// Target shares; empty = uniform over the groups the dataset has. Groups that are
    /// not listed are not sampled.
    pub targets: Vec<GroupTarget>,
    /// Examples per epoch; 0 = the dataset size.
    pub epoch_size: usize,
}

impl Default for BalancedConfig {
    fn default() -> Self {
        Self { group_by: "modalities".into(), targets: Vec::new(), epoch_size: 0 }
    }
}

/// Allocates `round(share_g * epoch_size)` draws to each group (largest remainders, so the
/// counts sum exactly), cycles through a fresh shuffle of the group's examples for them
/// (each example then repeats at most once more than any other of its group), and
/// shuffles the epoch. Rare groups are thus oversampled by inverse frequency.
#[derive(Debug)]
pub struct ModalityBalanced {
    cfg: BalancedConfig,
}

/// The group name of presence bits (bit i = `Modality::ALL[i]`).
pub fn modality_group(bits: u8) -> String {
    let names: Vec<&str> = Modality::ALL.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, m)| m.name()).collect();
    if names.is_empty() { "none".into() } else { names.join("+") }
}

impl ModalityBalanced {
    pub fn new(cfg: &BalancedConfig) -> Result<Self> {
        if cfg.group_by != "modalities" && cfg.group_by != "label" {
            return Err(config_error("modality_balanced", "group_by", format!("`{}` must be `modalities` or `label`", cfg.group_by)));
        }
        for (i, t) in cfg.targets.iter().enumerate() {
            if !(t.ratio.is_finite() && t.ratio > 0.0) {
                return Err(config_error("modality_balanced", &format!("targets[{i}].ratio"), format!("must be > 0, got {}", t.ratio)));
            }
            if cfg.targets[..i].iter().any(|o| o.group == t.group) {
                return Err(config_error("modality_balanced", &format!("targets[{i}].group"), format!("`{}` is listed twice", t.group)));
            }
        }
        Ok(Self { cfg: cfg.clone() })
    }

    /// Example indices per group name.
    fn groups(&self, ctx: &SamplerContext) -> Result<BTreeMap<String, Vec<usize>>> {
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..ctx.len {
            let key = match (self.cfg.group_by.as_str(), &ctx.presence, &ctx.labels) {
                ("label", _, Some(labels)) => labels.get(i).map(|l| l.to_string()),
                ("label", _, None) => return Err(Error::other("sampler `modality_balanced` with group_by: label needs class labels; this dataset has none")),
                (_, Some(bits), _) => bits.get(i).map(|b| modality_group(*b)),
                (_, None, _) => Some("all".to_string()),
            };
            let key = key.ok_or_else(|| Error::other(format!("sampler `modality_balanced`: the dataset reports fewer than {} labels/presence entries", ctx.len)))?;
            groups.entry(key).or_default().push(i);
        }
        Ok(groups)
    }
}

/// Splits `total` into integer counts proportional to `weights` (largest remainders).
pub fn allocate(weights: &[f64], total: usize) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    by_remainder.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    let missing = total - counts.iter().sum::<usize>();
    for &i in by_remainder.iter().take(missing) {
        counts[i] += 1;
    }
    counts
}

impl Sampler for ModalityBalanced {
    fn epoch_order(&self, ctx: &SamplerContext) -> Result<Vec<usize>> {
        if ctx.len == 0 {
            return Ok(Vec::new());
        }
        let groups = self.groups(ctx)?;
        let chosen: Vec<(&Vec<usize>, f64)> = if self.cfg.targets.is_empty() {
            groups.values().map(|members| (members, 1.0)).collect()
        } else {
            let mut chosen = Vec::new();
            for (i, t) in self.cfg.targets.iter().enumerate() {
                let members = groups.get(&t.group).ok_or_else(|| {
                    let known: Vec<&str> = groups.keys().map(String::as_str).collect();
                    config_error("modality_balanced", &format!("targets[{i}].group"), format!("no example is in group `{}`; the dataset's groups: {}", t.group, known.join(", ")))
                })?;
                chosen.push((members, t.ratio));
            }
            chosen
        };
        let size = if self.cfg.epoch_size == 0 { ctx.len } else { self.cfg.epoch_size };
        let counts = allocate(&chosen.iter().map(|(_, w)| *w).collect::<Vec<_>>(), size);
        let mut rng = epoch_rng(ctx.seed, ctx.epoch);
        let mut order = Vec::with_capacity(size);
        for ((members, _), count) in chosen.iter().zip(counts) {
            let mut pool: Vec<usize> = Vec::new();
            while pool.len() < count {
                let mut round = (*members).clone();
                round.shuffle(&mut rng);
                pool.extend(round);
            }
            order.extend(pool.into_iter().take(count));
        }
        order.shuffle(&mut rng);
        Ok(order)
    }
}
