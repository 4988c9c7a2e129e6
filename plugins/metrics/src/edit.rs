//! Word and character error rates: Levenshtein distance (unit-cost substitutions,
//! insertions, deletions) summed over the corpus, divided by the total reference length —
//! the corpus-level WER/CER of jiwer and torchmetrics, not a mean of per-sentence rates.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::{Error, Metric, Result, Scores, TensorMap};

use crate::text::{py_split, rows_of};

/// Edit distance between two sequences (one DP row).
pub fn levenshtein<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(x != y)).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// Σ distance / Σ reference length; errors when the references are all empty.
pub fn error_rate<T: PartialEq>(hyps: &[Vec<T>], refs: &[Vec<T>], what: &str) -> Result<f64> {
    if hyps.len() != refs.len() {
        return Err(Error::other(format!("{what}: {} hypotheses but {} references", hyps.len(), refs.len())));
    }
    let edits: usize = hyps.iter().zip(refs).map(|(h, r)| levenshtein(h, r)).sum();
    let total: usize = refs.iter().map(Vec::len).sum();
    if total == 0 {
        return Err(Error::other(format!("{what}: the references are all empty")));
    }
    Ok(edits as f64 / total as f64)
}

/// Word error rate over whitespace-separated words (no other normalisation).
pub fn wer(hyps: &[String], refs: &[String]) -> Result<f64> {
    fn words(v: &[String]) -> Vec<Vec<&str>> {
        v.iter().map(|s| py_split(s).collect()).collect()
    }
    error_rate(&words(hyps), &words(refs), "wer")
}

/// Character error rate over Unicode scalar values (spaces count as characters).
pub fn cer(hyps: &[String], refs: &[String]) -> Result<f64> {
    let chars = |v: &[String]| v.iter().map(|s| s.chars().collect::<Vec<_>>()).collect::<Vec<_>>();
    error_rate(&chars(hyps), &chars(refs), "cer")
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct ErrorRateConfig {}

/// The `wer` and `cer` components: the same computation over token ids; `name` is the
/// reported key. For `cer`, the ids should be characters (e.g. Unicode code points).
#[derive(Debug)]
pub struct ErrorRate {
    pub name: &'static str,
}

impl Metric for ErrorRate {
    /// Inputs: `pred_tokens` `[N, L]` and `ref_tokens` `[N, L']` i64 ids, 0 = padding.
    /// Output: `wer` (or `cer`), in [0, ∞): insertions can exceed the reference length.
    fn compute(&self, inputs: &TensorMap) -> Result<Scores> {
        let hyps = rows_of(inputs.get("pred_tokens")?, "pred_tokens")?;
        let refs = rows_of(inputs.get("ref_tokens")?, "ref_tokens")?;
        Ok(vec![(self.name.to_string(), error_rate(&hyps, &refs, self.name)?)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_distances() {
        assert_eq!(levenshtein(b"kitten", b"sitting"), 3);
        assert_eq!(levenshtein(b"", b"abc"), 3);
        assert_eq!(levenshtein(b"flaw", b"lawn"), 2);
    }

    #[test]
    fn corpus_rates() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // 1 substitution in 3 words + 1 deletion in 2 words → 2 / 5.
        assert_eq!(wer(&s(&["a b x", "c"]), &s(&["a b c", "c d"])).unwrap(), 0.4);
        assert_eq!(cer(&s(&["abd"]), &s(&["abc"])).unwrap(), 1.0 / 3.0);
        assert!(wer(&s(&["a"]), &s(&[""])).is_err());
    }
}
