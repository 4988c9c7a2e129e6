//! BLEU-1..4 as pycocoevalcap's `Bleu(4)` computes it: corpus-level clipped n-gram
//! precisions (each candidate n-gram count clipped by its maximum count in any one
//! reference), geometric mean, and a brevity penalty against the *closest* reference
//! length per candidate (ties go to the shorter reference), summed over the corpus.
//!
//! pycocoevalcap guards zero divisions with `(correct + 1e-15) / (guess + 1e-9)`; we
//! keep those constants so scores agree to the last digits. A consequence: a perfect
//! candidate scores `1 - O(1e-9)`, and BLEU-n of a candidate shorter than n words is
//! about 1e-6, not 0.
use crate::text::{gram_order, intern, Counted, CountedCorpus, Gram};
use plexus_plugin::Result;

const TINY: f64 = 1e-15;
const SMALL: f64 = 1e-9;

/// BLEU-1..4 for a corpus, plus each candidate's own (sentence-level) BLEU-1..4, as
/// pycocoevalcap returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct BleuScores {
    pub corpus: [f64; 4],
    pub per_candidate: Vec<[f64; 4]>,
}

/// Sufficient statistics of one candidate.
struct Stats {
    test_len: usize,
    ref_len: usize,
    guess: [usize; 4],
    correct: [usize; 4],
}

fn stats(cand: &Counted, refs: &[Counted]) -> Stats {
    // Maximum count of each n-gram in any one reference: concatenate, sort, keep the max.
    let mut max_ref: Vec<(Gram, u32)> = refs.iter().flat_map(|r| r.grams.iter().copied()).collect();
    max_ref.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    max_ref.dedup_by_key(|x| x.0);
    let test_len = cand.len;
    // "closest": smallest |ref_len - test_len|, ties to the shorter reference.
    let ref_len = refs.iter().map(|r| r.len).min_by_key(|&l| (l.abs_diff(test_len), l)).unwrap_or(0);
    let mut correct = [0usize; 4];
    let mut j = 0;
    for &(g, c) in &cand.grams {
        while j < max_ref.len() && max_ref[j].0 < g {
            j += 1;
        }
        if j < max_ref.len() && max_ref[j].0 == g {
            correct[gram_order(g)] += c.min(max_ref[j].1) as usize;
        }
    }
    let guess = std::array::from_fn(|k| (test_len + 1).saturating_sub(k + 1));
    Stats { test_len, ref_len, guess, correct }
}

/// BLEU-1..4 from summed statistics, with the brevity penalty.
fn score(test_len: f64, ref_len: f64, guess: &[f64; 4], correct: &[f64; 4]) -> [f64; 4] {
    let mut out = [0.0; 4];
    let mut prod = 1.0;
    for k in 0..4 {
        prod *= (correct[k] + TINY) / (guess[k] + SMALL);
        out[k] = prod.powf(1.0 / (k as f64 + 1.0));
    }
    let ratio = (test_len + TINY) / (ref_len + SMALL);
    if ratio < 1.0 {
        let bp = (1.0 - 1.0 / ratio).exp();
        out.iter_mut().for_each(|b| *b *= bp);
    }
    out
}

/// BLEU over word-id sequences: `cands[i]` is scored against `refs[i]` (at least one).
pub fn bleu_ids(cands: &[Vec<u32>], refs: &[Vec<Vec<u32>>]) -> BleuScores {
    bleu_counted(&CountedCorpus::new(cands, refs))
}

/// BLEU over captions whose n-grams are already counted.
pub fn bleu_counted(corpus: &CountedCorpus) -> BleuScores {
    let (mut tl, mut rl) = (0.0, 0.0);
    let (mut guess, mut correct) = ([0.0; 4], [0.0; 4]);
    let mut per_candidate = Vec::with_capacity(corpus.cands.len());
    for (c, r) in corpus.cands.iter().zip(&corpus.refs) {
        let s = stats(c, r);
        tl += s.test_len as f64;
        rl += s.ref_len as f64;
        let g = s.guess.map(|x| x as f64);
        let k = s.correct.map(|x| x as f64);
        for n in 0..4 {
            guess[n] += g[n];
            correct[n] += k[n];
        }
        per_candidate.push(score(s.test_len as f64, s.ref_len as f64, &g, &k));
    }
    BleuScores { corpus: score(tl, rl, &guess, &correct), per_candidate }
}

/// BLEU-1..4 of already tokenised captions (words separated by whitespace, e.g. the
/// output of [`crate::ptb_tokenize`]), exactly as pycocoevalcap's `Bleu(4)` scores them.
pub fn bleu(cands: &[String], refs: &[Vec<String>]) -> Result<BleuScores> {
    let (c, r) = intern(cands, refs, "bleu")?;
    Ok(bleu_ids(&c, &r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn hand_computed_bigram_example() {
        // cand "a b c d" vs ref "a b x d": 3/4 unigrams, 1/3 bigrams, 0 higher; same length.
        let b = bleu(&[s("a b c d")], &[vec![s("a b x d")]]).unwrap();
        assert!((b.corpus[0] - 0.75).abs() < 1e-8);
        assert!((b.corpus[1] - (0.75f64 / 3.0).sqrt()).abs() < 1e-8);
        assert!(b.corpus[3] < 1e-3);
    }

    #[test]
    fn short_candidate_gets_brevity_penalty_against_closest_reference() {
        // 2 words vs references of 3 and 9 words: closest is 3, BP = exp(1 - 3/2).
        let b = bleu(&[s("a b")], &[vec![s("a b c"), s("a b c d e f g h i")]]).unwrap();
        assert!((b.corpus[0] - (1.0f64 - 1.5).exp()).abs() < 1e-8, "{:?}", b.corpus);
    }
}
