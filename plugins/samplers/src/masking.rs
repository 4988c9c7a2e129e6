//! Masking schedules: `modality_dropout` and `gradual_integration`. Both draw from a
//! generator seeded by (seed, step), so a run masks the same way every time.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{Device, Kind, Tensor};
use plexus_plugin::{Error, Masking, MaskingContext, Modality, Presence, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config_error;

/// Presence as rows: `rows[b][m]` for the modalities of `presence` in key order.
fn to_rows(presence: &Presence) -> Result<(Vec<Modality>, Vec<Vec<bool>>, Device)> {
    let mut columns = Vec::new();
    let mut batch = None;
    let mut device = Device::Cpu;
    for (m, t) in presence {
        if t.dim() != 1 || t.kind() != Kind::Bool || batch.is_some_and(|b| b != t.size()[0]) {
            return Err(Error::shape(format!("presence of `{m}` must be [B] bool with one B for all modalities, got {:?} {:?}", t.size(), t.kind())));
        }
        batch = Some(t.size()[0]);
        device = t.device();
        columns.push(Vec::<bool>::try_from(t.to_device(Device::Cpu))?);
    }
    let b = batch.unwrap_or(0) as usize;
    let rows = (0..b).map(|i| columns.iter().map(|c| c[i]).collect()).collect();
    Ok((presence.keys().copied().collect(), rows, device))
}

fn from_rows(modalities: &[Modality], rows: &[Vec<bool>], device: Device) -> Presence {
    modalities.iter().enumerate().map(|(j, m)| (*m, Tensor::from_slice(&rows.iter().map(|r| r[j]).collect::<Vec<_>>()).to_device(device))).collect()
}

fn step_rng(ctx: &MaskingContext) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x6D61_736B); // "mask": apart from the samplers' streams
    rng.set_stream(ctx.step as u64);
    rng
}

fn parse_modalities(component: &str, key: &str, names: &[String]) -> Result<Vec<Modality>> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| Modality::parse(n).ok_or_else(|| config_error(component, &format!("{key}[{i}]"), format!("unknown modality `{n}`"))))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct DropoutConfig {
    /// Probability of dropping each present modality of each example.
    pub p: f64,
    /// The modalities that may be dropped (others are always kept).
    pub modalities: Vec<String>,
}

impl Default for DropoutConfig {
    fn default() -> Self {
        Self { p: 0.1, modalities: Modality::ALL.iter().map(|m| m.name().to_string()).collect() }
    }
}

/// Drops each present, droppable modality of each example with probability `p`. If that
/// would leave an example with nothing, one of its present modalities, chosen uniformly,
/// is kept: the effective drop rate for an example with k droppable modalities (and no
/// other) is therefore `p - p^k / k`.
#[derive(Debug)]
pub struct ModalityDropout {
    p: f64,
    droppable: Vec<Modality>,
}

impl ModalityDropout {
    pub fn new(cfg: &DropoutConfig) -> Result<Self> {
        if !(0.0..=1.0).contains(&cfg.p) {
            return Err(config_error("modality_dropout", "p", format!("must be in [0, 1], got {}", cfg.p)));
        }
        Ok(Self { p: cfg.p, droppable: parse_modalities("modality_dropout", "modalities", &cfg.modalities)? })
    }
}

impl Masking for ModalityDropout {
    fn mask(&self, ctx: &MaskingContext, presence: &Presence) -> Result<Presence> {
        let (modalities, mut rows, device) = to_rows(presence)?;
        let mut rng = step_rng(ctx);
        for row in &mut rows {
            let had: Vec<usize> = (0..row.len()).filter(|&j| row[j]).collect();
            for &j in &had {
                if self.droppable.contains(&modalities[j]) && rng.gen_bool(self.p) {
                    row[j] = false;
                }
            }
            if !had.is_empty() && !row.iter().any(|&x| x) {
                row[had[rng.gen_range(0..had.len())]] = true;
            }
        }
        Ok(from_rows(&modalities, &rows, device))
    }
}

/// One modality brought in gradually.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct Ramp {
    pub modality: String,
    /// Fraction of training before which the modality is always withheld.
    pub start: f64,
    /// Fraction of training over which its keep probability rises linearly from 0 to 1
    /// (0 = switched on at `start`).
    pub ramp: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct GradualConfig {
    /// Modalities not listed are always kept.
    pub schedule: Vec<Ramp>,
}

/// Keeps modality m of an example with probability `clamp((progress - start) / ramp, 0, 1)`.
/// An example that would lose every modality keeps the one with the highest keep
/// probability (the first such, in image, text, audio, video order).
#[derive(Debug)]
pub struct GradualIntegration {
    ramps: Vec<(Modality, f64, f64)>,
}

impl GradualIntegration {
    pub fn new(cfg: &GradualConfig) -> Result<Self> {
        let mut ramps = Vec::new();
        for (i, r) in cfg.schedule.iter().enumerate() {
            let m = Modality::parse(&r.modality)
                .ok_or_else(|| config_error("gradual_integration", &format!("schedule[{i}].modality"), format!("unknown modality `{}`", r.modality)))?;
            if ramps.iter().any(|(o, _, _)| *o == m) {
                return Err(config_error("gradual_integration", &format!("schedule[{i}].modality"), format!("`{m}` is scheduled twice")));
            }
            if !(0.0..=1.0).contains(&r.start) {
                return Err(config_error("gradual_integration", &format!("schedule[{i}].start"), format!("must be in [0, 1], got {}", r.start)));
            }
            if !(r.ramp >= 0.0 && r.ramp.is_finite()) {
                return Err(config_error("gradual_integration", &format!("schedule[{i}].ramp"), format!("must be >= 0, got {}", r.ramp)));
            }
            ramps.push((m, r.start, r.ramp));
        }
        Ok(Self { ramps })
    }

    /// Probability of keeping `m` at `progress`.
    pub fn keep_probability(&self, m: Modality, progress: f64) -> f64 {
        match self.ramps.iter().find(|(o, _, _)| *o == m) {
            None => 1.0,
            Some(&(_, start, _)) if progress < start => 0.0,
            Some(&(_, _, ramp)) if ramp == 0.0 => 1.0,
            Some(&(_, start, ramp)) => ((progress - start) / ramp).clamp(0.0, 1.0),
        }
    }
}

impl Masking for GradualIntegration {
    fn mask(&self, ctx: &MaskingContext, presence: &Presence) -> Result<Presence> {
        let (modalities, mut rows, device) = to_rows(presence)?;
        let keep: Vec<f64> = modalities.iter().map(|m| self.keep_probability(*m, ctx.progress)).collect();
        let mut rng = step_rng(ctx);
        for row in &mut rows {
            let had: Vec<usize> = (0..row.len()).filter(|&j| row[j]).collect();
            for &j in &had {
                if rng.gen::<f64>() >= keep[j] {
                    row[j] = false;
                }
            }
            if let Some(&best) = had.iter().rev().max_by(|&&a, &&b| keep[a].total_cmp(&keep[b])) {
                if !row.iter().any(|&x| x) {
                    row[best] = true;
                }
            }
        }
        Ok(from_rows(&modalities, &rows, device))
    }
}
