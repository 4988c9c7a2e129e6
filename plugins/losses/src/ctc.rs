//! Connectionist temporal classification (Graves et al. 2006) for sequence outputs whose
//! alignment to the targets is unknown (speech, handwriting), via libtorch's `ctc_loss`.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Kind, Reduction, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};

use crate::common::input;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct CtcLossConfig {
    /// Class index of the blank symbol.
    pub blank: i64,
    /// Count an impossible alignment (too few frames for the target) as 0 instead of
    /// refusing the batch.
    pub zero_infinity: bool,
}

#[derive(Debug)]
pub struct CtcLoss {
    cfg: CtcLossConfig,
}

impl CtcLoss {
    pub fn new(_p: &nn::Path, cfg: &CtcLossConfig) -> Result<Self> {
        if cfg.blank < 0 {
            return Err(Error::other(format!("ctc loss: blank must be a class index >= 0, got {}", cfg.blank)));
        }
        Ok(Self { cfg: cfg.clone() })
    }
}

fn lengths(inputs: &TensorMap, name: &str, batch: i64) -> Result<Vec<i64>> {
    let t = input(inputs, name, 1, "ctc", "[B] i64")?;
    if t.size()[0] != batch || t.kind() != Kind::Int64 {
        return Err(Error::shape(format!("ctc loss: `{name}` must be i64 [{batch}], got {:?} {:?}", t.kind(), t.size())));
    }
    Ok(Vec::<i64>::try_from(&t.to_device(plexus_plugin::tch::Device::Cpu))?)
}

impl CtcLoss {
    /// Refuses lengths and targets no alignment can satisfy, naming the example.
    fn check_lengths(&self, targets: &Tensor, frames: &[i64], target_lengths: &[i64], t: i64, classes: i64) -> Result<()> {
        let s = targets.size()[1];
        let rows = Vec::<Vec<i64>>::try_from(&targets.to_device(plexus_plugin::tch::Device::Cpu))?;
        for (i, ((&n, &m), row)) in frames.iter().zip(target_lengths).zip(&rows).enumerate() {
            if !(1..=t).contains(&n) {
                return Err(Error::shape(format!("ctc loss: input_lengths[{i}] = {n} must be in 1..={t} (the frames of `logits`)")));
            }
            if !(0..=s).contains(&m) {
                return Err(Error::shape(format!("ctc loss: target_lengths[{i}] = {m} must be in 0..={s} (the columns of `targets`)")));
            }
            let labels = &row[..m as usize];
            if let Some(bad) = labels.iter().find(|&&c| c < 0 || c >= classes || c == self.cfg.blank) {
                return Err(Error::shape(format!(
                    "ctc loss: targets[{i}] holds {bad}, which is the blank ({}) or outside the {classes} classes",
                    self.cfg.blank
                )));
            }
            // A repeated label needs a blank frame between its two copies.
            let needed = m + labels.windows(2).filter(|w| w[0] == w[1]).count() as i64;
            if needed > n && !self.cfg.zero_infinity {
                return Err(Error::shape(format!(
                    "ctc loss: example {i} has target_lengths {m} (needing {needed} frames with its repeats) but input_lengths {n}; \
                     shorten the target or set zero_infinity: true"
                )));
            }
        }
        Ok(())
    }
}

impl Loss for CtcLoss {
    /// Inputs: `logits` `[B, T, C]` (unnormalised scores per frame, C classes including
    /// the blank), `targets` `[B, S]` i64 (padded; only the first `target_lengths[b]`
    /// entries count), `input_lengths` `[B]` i64 (valid frames), `target_lengths` `[B]`
    /// i64. Output: the mean over examples of `-log p(target | input) / target_length`,
    /// as torch's `ctc_loss(reduction="mean")`. Reads the lengths on the CPU to check them.
    fn compute(&self, inputs: &TensorMap, _train: bool) -> Result<LossOutput> {
        let logits = input(inputs, "logits", 3, "ctc", "[B, T, C]")?;
        let targets = input(inputs, "targets", 2, "ctc", "[B, S] i64")?;
        let (b, t, c) = logits.size3()?;
        if targets.size()[0] != b || targets.kind() != Kind::Int64 {
            return Err(Error::shape(format!("ctc loss: `targets` must be i64 [{b}, S], got {:?} {:?}", targets.kind(), targets.size())));
        }
        if self.cfg.blank >= c {
            return Err(Error::shape(format!("ctc loss: blank {} is not one of the {c} classes of `logits`", self.cfg.blank)));
        }
        let frames = lengths(inputs, "input_lengths", b)?;
        let target_lengths = lengths(inputs, "target_lengths", b)?;
        self.check_lengths(targets, &frames, &target_lengths, t, c)?;
        let log_probs = logits.log_softmax(-1, Kind::Float).transpose(0, 1); // [T, B, C], as libtorch wants
        let loss = Tensor::f_ctc_loss_tensor(
            &log_probs,
            targets,
            inputs.get("input_lengths")?,
            inputs.get("target_lengths")?,
            self.cfg.blank,
            Reduction::Mean,
            self.cfg.zero_infinity,
        )?;
        Ok(LossOutput { loss, logs: vec![] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::Device;

    fn ctc_inputs(logits: &Tensor, targets: &[i64], frames: i64, target_len: i64) -> TensorMap {
        TensorMap::new()
            .with("logits", logits)
            .with("targets", &Tensor::from_slice(targets).view([1, -1]))
            .with("input_lengths", &Tensor::from_slice(&[frames]))
            .with("target_lengths", &Tensor::from_slice(&[target_len]))
    }

    #[test]
    fn matches_hand_computed_value() {
        // Two frames, uniform over {blank, a}: target "a" is reached by "a-", "-a", "aa",
        // so p = 3/4, and the mean reduction divides by the target length 1.
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = CtcLoss::new(&vs.root(), &CtcLossConfig::default()).unwrap();
        let logits = Tensor::zeros([1, 2, 2], (Kind::Float, Device::Cpu));
        let got = loss.compute(&ctc_inputs(&logits, &[1], 2, 1), true).unwrap().loss.double_value(&[]);
        assert!((got - -(0.75f64).ln()).abs() < 1e-6, "{got}");
    }

    #[test]
    fn inconsistent_lengths_are_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = CtcLoss::new(&vs.root(), &CtcLossConfig::default()).unwrap();
        let logits = Tensor::zeros([1, 3, 3], (Kind::Float, Device::Cpu));
        let err = |inputs: TensorMap| loss.compute(&inputs, true).unwrap_err().to_string();
        assert!(err(ctc_inputs(&logits, &[1, 2], 4, 2)).contains("input_lengths[0] = 4"));
        assert!(err(ctc_inputs(&logits, &[1, 2], 3, 3)).contains("target_lengths[0] = 3"));
        assert!(err(ctc_inputs(&logits, &[1, 1], 2, 2)).contains("needing 3 frames"));
        assert!(err(ctc_inputs(&logits, &[1, 0], 3, 2)).contains("blank"));
    }
}
