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
use crate::text::{gram_order, intern, Counted, CountedCorpus, Gram};
use plexus_plugin::Result;

/// σ of the Gaussian length penalty.
pub const SIGMA: f64 = 6.0;

/// A sentence as tf-idf weights of its n-grams (sorted by key; all orders together).
#[derive(Default)]
struct TfIdf {
    vec: Vec<(Gram, f64)>,
    norm: [f64; 4],
    /// Number of bigrams: pycocoevalcap's `length`.
    length: f64,
}

impl TfIdf {
    /// Refills `self` (keeping its allocation) from `sentence`, whose n-grams have the
    /// document weights `ln_df` (`ln(max(1, df))`, 0 for n-grams no reference has), in order.
    fn fill(&mut self, sentence: &Counted, ln_df: impl Iterator<Item = f64>, log_n: f64) {
        let mut norm = [0.0; 4];
        self.vec.clear();
        self.vec.extend(sentence.grams.iter().zip(ln_df).map(|(&(g, tf), w)| {
            let v = tf as f64 * (log_n - w);
            norm[gram_order(g)] += v * v;
            (g, v)
        }));
        self.norm = norm.map(f64::sqrt);
        self.length = sentence.len.saturating_sub(1) as f64;
    }
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
    cider_d_counted(&CountedCorpus::new(cands, refs), sigma)
}

/// CIDEr-D with a chosen σ over captions whose n-grams are already counted.
pub fn cider_d_counted(corpus: &CountedCorpus, sigma: f64) -> (f64, Vec<f64>) {
    let weights = DocWeights::new(corpus);
    let log_n = (corpus.cands.len() as f64).ln();
    let (mut vc, mut vr) = (TfIdf::default(), TfIdf::default());
    let mut cand_at = weights.cands_start;
    let per: Vec<f64> = corpus
        .cands
        .iter()
        .zip(&corpus.refs)
        .enumerate()
        .map(|(i, (c, rs))| {
            vc.fill(c, weights.ln_df[cand_at..cand_at + c.grams.len()].iter().copied(), log_n);
            cand_at += c.grams.len();
            let set = &weights.set_grams[weights.set_start[i]..weights.set_start[i + 1]];
            let set_ln_df = &weights.ln_df[weights.set_start[i]..weights.set_start[i + 1]];
            let mut sum = 0.0;
            for r in rs {
                // Both sorted by n-gram: a merge finds each reference n-gram in its set.
                let mut j = 0;
                let ln_df = r.grams.iter().map(|&(g, _)| {
                    while set[j] < g {
                        j += 1;
                    }
                    set_ln_df[j]
                });
                vr.fill(r, ln_df, log_n);
                sum += sim(&vc, &vr, sigma);
            }
            sum / rs.len() as f64 * 10.0
        })
        .collect();
    let mean = if per.is_empty() { 0.0 } else { per.iter().sum::<f64>() / per.len() as f64 };
    (mean, per)
}

/// `ln(max(1, df))` of every n-gram the scoring reads, where `df(g)` is the number of
/// reference sets holding `g` (grams of different orders never share a key, see
/// `text::Gram`). Slots `set_start[i]..set_start[i + 1]` are reference set i's distinct
/// n-grams (sorted, in `set_grams`); from `cands_start` on, every candidate's n-grams in
/// corpus order.
///
/// Counted by sorting all slots by n-gram and reading runs, not with a hash map: a
/// million scattered hash-table inserts cost several times more than one sort.
struct DocWeights {
    set_grams: Vec<Gram>,
    set_start: Vec<usize>,
    cands_start: usize,
    ln_df: Vec<f64>,
}

impl DocWeights {
    fn new(corpus: &CountedCorpus) -> Self {
        let mut set_grams: Vec<Gram> = Vec::new();
        let mut set_start = vec![0];
        let mut seen: Vec<Gram> = Vec::new();
        for rs in &corpus.refs {
            seen.clear();
            seen.extend(rs.iter().flat_map(|r| r.grams.iter().map(|&(g, _)| g)));
            seen.sort_unstable();
            seen.dedup();
            set_grams.extend_from_slice(&seen);
            set_start.push(set_grams.len());
        }
        let cands_start = set_grams.len();
        let mut slots: Vec<(Gram, u32)> = set_grams.iter().copied().chain(corpus.cands.iter().flat_map(|c| c.grams.iter().map(|&(g, _)| g))).zip(0u32..).collect();
        slots.sort_unstable_by_key(|&(g, _)| g);
        let mut ln_df = vec![0.0; slots.len()];
        for run in slots.chunk_by(|a, b| a.0 == b.0) {
            // Candidate slots only read the weight; reference-set slots count.
            let df = run.iter().filter(|&&(_, slot)| (slot as usize) < cands_start).count();
            let w = (df.max(1) as f64).ln();
            run.iter().for_each(|&(_, slot)| ln_df[slot as usize] = w);
        }
        Self { set_grams, set_start, cands_start, ln_df }
    }
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
