//! Caption metrics as components (`bleu`, `rouge_l`, `cider`, `caption` = all three) and
//! [`caption_scores`], the text entry point `plexus score` uses.
//!
//! Components see token ids, not text: tokenise the captions (e.g. with the run's word
//! tokenizer, or [`crate::ptb_tokenize`] then a vocabulary) and pass `[N, L]` / `[N, R, L]`
//! id tensors. BLEU, ROUGE-L and CIDEr-D only compare words for equality, so scores over
//! ids equal scores over the words they stand for.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::{Metric, Result, Scores, TensorMap};

use crate::text::{check_counts, intern, ref_rows_of, rows_of, CountedCorpus};
use crate::bleu::bleu_counted;
use crate::cider::{cider_d_counted, SIGMA};
use crate::{ptb_tokenize_all, rouge_l_ids};

/// Which caption metrics a component reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptionMetric {
    Bleu,
    RougeL,
    Cider,
    All,
}

impl CaptionMetric {
    fn wants(self, m: CaptionMetric) -> bool {
        self == CaptionMetric::All || self == m
    }
}

/// Scores over word-id sequences, named `bleu_1..bleu_4`, `rouge_l`, `cider`.
pub fn caption_scores_ids(which: CaptionMetric, cands: &[Vec<u32>], refs: &[Vec<Vec<u32>>]) -> Scores {
    let mut out = Scores::new();
    let counted = (which.wants(CaptionMetric::Bleu) || which.wants(CaptionMetric::Cider)).then(|| CountedCorpus::new(cands, refs));
    if let (true, Some(counted)) = (which.wants(CaptionMetric::Bleu), &counted) {
        let b = bleu_counted(counted);
        out.extend((0..4).map(|k| (format!("bleu_{}", k + 1), b.corpus[k])));
    }
    if which.wants(CaptionMetric::RougeL) {
        out.push(("rouge_l".into(), rouge_l_ids(cands, refs).0));
    }
    if let (true, Some(counted)) = (which.wants(CaptionMetric::Cider), &counted) {
        out.push(("cider".into(), cider_d_counted(counted, SIGMA).0));
    }
    out
}

/// Raw captions → PTB tokenisation (as pycocoevalcap's `COCOEvalCap`) → the chosen scores.
/// With `tokenize: false` the captions must already be tokenised (space-separated words).
pub fn caption_scores(which: CaptionMetric, cands: &[String], refs: &[Vec<String>], tokenize: bool) -> Result<Scores> {
    check_counts(cands.len(), refs, "caption")?;
    let (cands, refs): (Vec<String>, Vec<Vec<String>>) = if tokenize {
        (ptb_tokenize_all(cands), refs.iter().map(|r| ptb_tokenize_all(r)).collect())
    } else {
        (cands.to_vec(), refs.to_vec())
    };
    // One vocabulary for all three metrics: interning the words is a sizeable share of
    // their cost, and they only compare words for equality.
    let (cands, refs) = intern(&cands, &refs, "caption")?;
    Ok(caption_scores_ids(which, &cands, &refs))
}

/// The caption components take no options (the constants are pycocoevalcap's).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct CaptionConfig {}

#[derive(Debug)]
pub struct Caption {
    pub which: CaptionMetric,
}

impl Metric for Caption {
    /// Inputs: `pred_tokens` `[N, L]` i64 candidate ids and `ref_tokens` `[N, R, L]` i64
    /// reference ids, 0 = padding (an all-padding reference row is absent; each candidate
    /// needs at least one reference). Outputs `bleu_1..bleu_4`, `rouge_l`, `cider`
    /// (CIDEr-D, σ = 6, ×10, document frequencies from these references) as selected.
    fn compute(&self, inputs: &TensorMap) -> Result<Scores> {
        let cands = rows_of(inputs.get("pred_tokens")?, "pred_tokens")?;
        let refs = ref_rows_of(inputs.get("ref_tokens")?, "ref_tokens")?;
        check_counts(cands.len(), &refs, "caption")?;
        Ok(caption_scores_ids(self.which, &cands, &refs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::Tensor;

    #[test]
    fn padded_id_tensors_score_like_the_words_they_stand_for() {
        // Candidate 0 "a b c d" vs refs "a b c d" / "e"; candidate 1 "b a" vs "a b e".
        let pred = Tensor::from_slice2(&[[1i64, 2, 3, 4], [2, 1, 0, 0]]);
        let refs = Tensor::from_slice(&[1i64, 2, 3, 4, 5, 0, 0, 0, 1, 2, 5, 0, 0, 0, 0, 0]).reshape([2, 2, 4]);
        let got = Caption { which: CaptionMetric::All }.compute(&TensorMap::new().with("pred_tokens", &pred).with("ref_tokens", &refs)).unwrap();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let want = caption_scores(CaptionMetric::All, &s(&["a b c d", "b a"]), &[s(&["a b c d", "e"]), s(&["a b e"])], false).unwrap();
        assert_eq!(got.len(), 6);
        for ((n1, a), (n2, b)) in got.iter().zip(&want) {
            assert_eq!(n1, n2);
            assert!((a - b).abs() < 1e-12, "{n1}: {a} vs {b}");
        }
    }
}
