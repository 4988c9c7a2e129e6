//! ROUGE-L as pycocoevalcap's `Rouge` computes it: per candidate, the longest common
//! subsequence with each reference gives a precision `lcs/|cand|` and a recall
//! `lcs/|ref|`; the best precision and the best recall (maximised *separately* over the
//! references) combine as `F = (1+β²)·P·R / (R + β²·P)` with β = 1.2; the corpus score is
//! the mean over candidates.
//!
//! pycocoevalcap splits on single spaces (`split(" ")`), not on whitespace runs, so an
//! empty caption is one empty token. [`rouge_l`] reproduces that on strings; use
//! tokenised text (single spaces) and the two splitting rules agree.
use crate::text::{check_counts, Vocab};
use plexus_plugin::Result;

/// β of pycocoevalcap ("updated based on discussion with Hovey").
pub const BETA: f64 = 1.2;

/// Length of the longest common subsequence (one DP row, O(|a|·|b|) time).
pub fn lcs_len(a: &[u32], b: &[u32]) -> usize {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut row = vec![0usize; short.len() + 1];
    for &x in long {
        let mut diag = 0; // row[j - 1] of the previous row
        for j in 1..=short.len() {
            let up = row[j];
            row[j] = if x == short[j - 1] { diag + 1 } else { up.max(row[j - 1]) };
            diag = up;
        }
    }
    row[short.len()]
}

/// ROUGE-L F-score of one candidate against its references (0 for an empty candidate).
pub fn rouge_l_one(cand: &[u32], refs: &[Vec<u32>]) -> f64 {
    if cand.is_empty() {
        return 0.0;
    }
    let (mut p, mut r) = (0.0f64, 0.0f64);
    for reference in refs {
        let lcs = lcs_len(reference, cand) as f64;
        p = p.max(lcs / cand.len() as f64);
        if !reference.is_empty() {
            r = r.max(lcs / reference.len() as f64);
        }
    }
    if p == 0.0 || r == 0.0 {
        return 0.0;
    }
    let b2 = BETA * BETA;
    (1.0 + b2) * p * r / (r + b2 * p)
}

/// Mean ROUGE-L and the per-candidate scores over word-id sequences.
pub fn rouge_l_ids(cands: &[Vec<u32>], refs: &[Vec<Vec<u32>>]) -> (f64, Vec<f64>) {
    let per: Vec<f64> = cands.iter().zip(refs).map(|(c, r)| rouge_l_one(c, r)).collect();
    let mean = if per.is_empty() { 0.0 } else { per.iter().sum::<f64>() / per.len() as f64 };
    (mean, per)
}

/// ROUGE-L of tokenised captions, exactly as pycocoevalcap's `Rouge` scores them.
pub fn rouge_l(cands: &[String], refs: &[Vec<String>]) -> Result<(f64, Vec<f64>)> {
    check_counts(cands.len(), refs, "rouge_l")?;
    let mut vocab = Vocab::default();
    let mut c: Vec<Vec<u32>> = Vec::with_capacity(cands.len());
    for s in cands {
        c.push(s.split(' ').map(|w| vocab.id(w)).collect());
    }
    let mut r: Vec<Vec<Vec<u32>>> = Vec::with_capacity(refs.len());
    for rs in refs {
        r.push(rs.iter().map(|s| s.split(' ').map(|w| vocab.id(w)).collect()).collect());
    }
    Ok(rouge_l_ids(&c, &r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_of_small_sequences() {
        assert_eq!(lcs_len(&[1, 2, 3, 4], &[1, 3, 4]), 3);
        assert_eq!(lcs_len(&[1, 2], &[3]), 0);
        assert_eq!(lcs_len(&[], &[3]), 0);
    }

    #[test]
    fn hand_computed_f_score() {
        // cand "a b c" vs ref "a c d e": lcs 2, P = 2/3, R = 1/2.
        let (m, _) = rouge_l(&["a b c".into()], &[vec!["a c d e".into()]]).unwrap();
        let (p, r, b2) = (2.0 / 3.0, 0.5, 1.44);
        assert!((m - (1.0 + b2) * p * r / (r + b2 * p)).abs() < 1e-12);
    }
}
