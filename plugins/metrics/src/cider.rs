//! CIDEr-D as pycocoevalcap's `Cider` computes it (that class is CIDEr-D: clipped
//! tf-idf, Gaussian length penalty, ×10).
//!
//! - Document frequency `df(g)`: the number of *candidates* whose reference set contains
//!   n-gram `g`, counted over the references of the scored corpus itself (so scores
//!   depend on the whole corpus, as in pycocoevalcap); idf = `ln(N) - ln(max(1, df))`.
//! - Each sentence becomes, per order n = 1..4, a vector `tf · idf`.
//! - Similarity to one reference, per order: `Σ_g min(v_c(g), v_r(g)) · v_r(g) / (|v_c| |v_r|)`
//!   (the clipping of CIDEr-D; the division is skipped when a norm is 0), times
//!   `exp(-δ²/(2σ²))`, σ = 6.
//! - δ is, as in pycocoevalcap's code, the difference in *bigram* counts (it counts
//!   "length" only for order index 1), i.e. `max(0, |c|-1) - max(0, |r|-1)`.
//! - A candidate's score is the mean over orders, averaged over its references, × 10;
//!   the corpus score is the mean over candidates.
use crate::text::{gram_order, intern, ngram_vec, Gram, IdMap};
use plexus_plugin::Result;

/// σ of the Gaussian length penalty.
pub const SIGMA: f64 = 6.0;

/// A sentence as tf-idf weights of its n-grams (sorted by key; all orders together).
struct TfIdf {
    vec: Vec<(Gram, f64)>,
    norm: [f64; 4],
    /// Number of bigrams: pycocoevalcap's `length`.
    length: f64,
}

/// `ln_df` holds `ln(max(1, df))` of every n-gram seen in the references.
fn tfidf(grams: &[(Gram, u32)], len: usize, ln_df: &IdMap<Gram, f64>, log_n: f64) -> TfIdf {
    let mut norm = [0.0; 4];
    let vec = grams
        .iter()
        .map(|&(g, tf)| {
            let v = tf as f64 * (log_n - ln_df.get(&g).copied().unwrap_or(0.0));
            norm[gram_order(g)] += v * v;
            (g, v)
        })
        .collect();
    TfIdf { vec, norm: norm.map(f64::sqrt), length: len.saturating_sub(1) as f64 }
}

fn sim(c: &TfIdf, r: &TfIdf, sigma: f64) -> f64 {
    let delta = c.length - r.length;
    let penalty = (-(delta * delta) / (2.0 * sigma * sigma)).exp();
    let mut val = [0.0; 4];
    let mut j = 0;
    for &(g, vc) in &c.vec {
        while j < r.vec.len() && r.vec[j].0 < g {
            j += 1;
        }
        if j < r.vec.len() && r.vec[j].0 == g {
            let vr = r.vec[j].1;
            val[gram_order(g)] += vc.min(vr) * vr; // clipping (CIDEr-D)
        }
    }
    let mut total = 0.0;
    for n in 0..4 {
        if c.norm[n] != 0.0 && r.norm[n] != 0.0 {
            val[n] /= c.norm[n] * r.norm[n];
        }
        total += val[n] * penalty;
    }
    total / 4.0
}

/// CIDEr-D with a chosen σ over word-id sequences: (corpus mean, per-candidate scores).
pub fn cider_d_ids_with(cands: &[Vec<u32>], refs: &[Vec<Vec<u32>>], sigma: f64) -> (f64, Vec<f64>) {
    // Document frequency over reference sets (grams of different orders never share a key,
    // see `text::Gram`), then replaced in place by ln(max(1, df)). Each reference's n-grams
    // are counted once and kept for the tf-idf pass; the map is sized up front because
    // rehashing a million n-grams costs more than the scoring.
    let ref_grams: Vec<Vec<Vec<(Gram, u32)>>> = refs.iter().map(|rs| rs.iter().map(|r| ngram_vec(r)).collect()).collect();
    let total: usize = ref_grams.iter().flatten().map(Vec::len).sum();
    let mut ln_df: IdMap<Gram, f64> = IdMap::with_capacity_and_hasher(total, Default::default());
    let mut seen: Vec<Gram> = Vec::new();
    for rs in &ref_grams {
        seen.clear();
        seen.extend(rs.iter().flatten().map(|&(g, _)| g));
        seen.sort_unstable();
        seen.dedup();
        for &g in &seen {
            *ln_df.entry(g).or_insert(0.0) += 1.0;
        }
    }
    ln_df.values_mut().for_each(|d| *d = d.max(1.0).ln());
    let log_n = (cands.len() as f64).ln();
    let per: Vec<f64> = cands
        .iter()
        .zip(refs.iter().zip(&ref_grams))
        .map(|(c, (rs, rgs))| {
            let vc = tfidf(&ngram_vec(c), c.len(), &ln_df, log_n);
            let sum: f64 = rs.iter().zip(rgs).map(|(r, g)| sim(&vc, &tfidf(g, r.len(), &ln_df, log_n), sigma)).sum();
            sum / rs.len() as f64 * 10.0
        })
        .collect();
    let mean = if per.is_empty() { 0.0 } else { per.iter().sum::<f64>() / per.len() as f64 };
    (mean, per)
}

/// CIDEr-D (σ = 6) over word-id sequences.
pub fn cider_d_ids(cands: &[Vec<u32>], refs: &[Vec<Vec<u32>>]) -> (f64, Vec<f64>) {
    cider_d_ids_with(cands, refs, SIGMA)
}

/// CIDEr-D of tokenised captions, exactly as pycocoevalcap's `Cider` scores them.
pub fn cider_d(cands: &[String], refs: &[Vec<String>]) -> Result<(f64, Vec<f64>)> {
    let (c, r) = intern(cands, refs, "cider")?;
    Ok(cider_d_ids(&c, &r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngram_seen_in_every_reference_set_carries_no_weight() {
        // Two images whose references share everything: idf = ln 2 - ln 2 = 0 → score 0.
        let refs = vec![vec![vec![1, 2]], vec![vec![1, 2]]];
        let (mean, _) = cider_d_ids(&[vec![1, 2], vec![1, 2]], &refs);
        assert_eq!(mean, 0.0);
    }

    #[test]
    fn distinctive_exact_match_scores_ten() {
        // Disjoint vocabularies: every n-gram has df 1, vectors equal → cosine 1 per order
        // for orders the sentence has; "a b c d" has all four orders → 10.
        let refs = vec![vec![vec![1, 2, 3, 4]], vec![vec![5, 6, 7, 8]]];
        let (_, per) = cider_d_ids(&[vec![1, 2, 3, 4], vec![9]], &refs);
        assert!((per[0] - 10.0).abs() < 1e-12, "{per:?}");
        assert_eq!(per[1], 0.0);
    }
}
