//! Classification accuracy and macro-F1. Macro-F1 follows scikit-learn's
//! `f1_score(average="macro")`: F1 = 2TP / (2TP + FP + FN) per class, averaged over the
//! classes that occur in the labels or the predictions (a class seen in neither is
//! skipped, not counted as 0).
use std::collections::BTreeMap;

use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::Kind;
use plexus_plugin::{Error, Metric, Result, Scores, TensorMap};

/// Fraction of predictions equal to their label.
pub fn accuracy(preds: &[i64], labels: &[i64]) -> Result<f64> {
    check(preds, labels)?;
    Ok(preds.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64)
}

/// Macro-averaged F1 over the classes present in `preds` ∪ `labels`.
pub fn macro_f1(preds: &[i64], labels: &[i64]) -> Result<f64> {
    check(preds, labels)?;
    let mut counts: BTreeMap<i64, [usize; 3]> = BTreeMap::new(); // [tp, fp, fn]
    for (&p, &l) in preds.iter().zip(labels) {
        if p == l {
            counts.entry(p).or_default()[0] += 1;
        } else {
            counts.entry(p).or_default()[1] += 1;
            counts.entry(l).or_default()[2] += 1;
        }
    }
    let f1 = |&[tp, fp, fnn]: &[usize; 3]| 2.0 * tp as f64 / (2 * tp + fp + fnn) as f64;
    Ok(counts.values().map(f1).sum::<f64>() / counts.len() as f64)
}

fn check(preds: &[i64], labels: &[i64]) -> Result<()> {
    if preds.len() != labels.len() || labels.is_empty() {
        return Err(Error::shape(format!("{} predictions vs {} labels (need equal, non-zero counts)", preds.len(), labels.len())));
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct ClassificationConfig {}

/// The `classification` component.
#[derive(Debug)]
pub struct Classification;

impl Metric for Classification {
    /// Inputs: `labels` `[N]` i64 and either `logits` `[N, C]` (argmax is the prediction)
    /// or `preds` `[N]` i64. Outputs `accuracy` and `macro_f1`, both in [0, 1].
    fn compute(&self, inputs: &TensorMap) -> Result<Scores> {
        let labels = inputs.get("labels")?;
        let preds = match (inputs.get_opt("preds"), inputs.get_opt("logits")) {
            (Some(p), _) => p.shallow_clone(),
            (None, Some(l)) if l.dim() == 2 => l.argmax(1, false),
            (None, Some(l)) => return Err(Error::shape(format!("classification: logits must be [N, C], got {:?}", l.size()))),
            (None, None) => return Err(Error::other("classification: give `preds` [N] or `logits` [N, C]")),
        };
        if labels.dim() != 1 || preds.size() != labels.size() {
            return Err(Error::shape(format!("classification: preds {:?} and labels {:?} must both be [N]", preds.size(), labels.size())));
        }
        let to_vec = |t: &plexus_plugin::tch::Tensor| Vec::<i64>::try_from(t.to_kind(Kind::Int64)).map_err(Error::from);
        let (p, l) = (to_vec(&preds)?, to_vec(labels)?);
        Ok(vec![("accuracy".into(), accuracy(&p, &l)?), ("macro_f1".into(), macro_f1(&p, &l)?)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_macro_f1() {
        // class 0: tp 1, fn 1 → 2/3; class 1: tp 1, fp 1 → 2/3; class 2: tp 1 → 1.
        let (p, l) = ([0, 1, 1, 2], [0, 0, 1, 2]);
        assert!((macro_f1(&p, &l).unwrap() - (2.0 / 3.0 + 2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
        assert_eq!(accuracy(&p, &l).unwrap(), 0.75);
    }
}
