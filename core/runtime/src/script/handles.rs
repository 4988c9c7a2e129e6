//! Script-visible handles to host objects. Rhai values must be `Clone`; these are `Rc`s.
use std::cell::RefCell;
use std::rc::Rc;

use plexus_plugin::{Encoder, Fusion, Loss, Masking, Metric, Sampler, Tokenizer};
use rhai::FnPtr;

use crate::data::CaptionedImages;
use crate::error::{Error, Result};
use crate::model::DualEncoder;
use crate::train::Trainer;

#[derive(Clone)]
pub struct EncoderHandle(pub Rc<Box<dyn Encoder>>);
#[derive(Clone)]
pub struct FusionHandle(pub Rc<Box<dyn Fusion>>);
#[derive(Clone)]
pub struct MaskingHandle(pub Rc<Box<dyn Masking>>);
#[derive(Clone)]
pub struct TokenizerHandle(pub Rc<RefCell<Box<dyn Tokenizer>>>);
#[derive(Clone)]
pub struct LossHandle(pub Rc<Box<dyn Loss>>);
#[derive(Clone)]
pub struct SamplerHandle(pub Rc<Box<dyn Sampler>>);
#[derive(Clone)]
pub struct MetricHandle(pub Rc<Box<dyn Metric>>);
#[derive(Clone)]
pub struct DatasetHandle(pub Rc<CaptionedImages>);
#[derive(Clone)]
pub struct ModelHandle(pub Rc<DualEncoder>);

/// Script functions the training loop calls.
#[derive(Clone, Default)]
pub struct Hooks {
    /// `(every, f)`: `f(#{step, epoch, loss, lr})` after every `every`-th step.
    pub on_step: Vec<(usize, FnPtr)>,
    /// `f(epoch_stats)` after each epoch.
    pub on_epoch_end: Vec<FnPtr>,
}

#[derive(Clone)]
pub struct TrainerHandle {
    pub trainer: Rc<RefCell<Trainer>>,
    pub hooks: Rc<RefCell<Hooks>>,
}

/// Stops when `metric` has not improved for `patience` consecutive checks.
#[derive(Clone, Debug)]
pub struct EarlyStopping {
    pub metric: String,
    patience: usize,
    higher_is_better: bool,
    pub best: f64,
    bad_checks: usize,
}

impl EarlyStopping {
    pub fn new(metric: &str, patience: i64, mode: &str) -> Result<Self> {
        let higher_is_better = match mode {
            "max" => true,
            "min" => false,
            other => return Err(Error::Other(format!("early_stopping: mode `{other}` must be \"max\" or \"min\""))),
        };
        if patience < 1 {
            return Err(Error::Other("early_stopping: patience must be >= 1".into()));
        }
        let best = if higher_is_better { f64::NEG_INFINITY } else { f64::INFINITY };
        Ok(Self { metric: metric.into(), patience: patience as usize, higher_is_better, best, bad_checks: 0 })
    }

    /// Records `value`; true when training should stop.
    pub fn update(&mut self, value: f64) -> bool {
        let improved = if self.higher_is_better { value > self.best } else { value < self.best };
        if improved {
            self.best = value;
            self.bad_checks = 0;
        } else {
            self.bad_checks += 1;
        }
        self.bad_checks >= self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::EarlyStopping;

    #[test]
    fn early_stopping_counts_checks_without_improvement() {
        let mut e = EarlyStopping::new("acc", 2, "max").unwrap();
        assert!(!e.update(0.5));
        assert!(!e.update(0.6));
        assert!(!e.update(0.6));
        assert!(e.update(0.55));
        assert_eq!(e.best, 0.6);
        assert!(EarlyStopping::new("acc", 2, "up").is_err());
    }
}
