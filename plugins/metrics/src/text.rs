//! Shared plumbing for the text metrics: Python-compatible whitespace splitting, word
//! interning (so n-grams are compared as small integers, not strings), n-gram counting,
//! and reading `[N, L]` / `[N, R, L]` token-id tensors for the tensor-facing components.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use plexus_plugin::tch::{Kind, Tensor};
use plexus_plugin::{Error, Result};

/// Whitespace as Python's `str.split()` sees it: Unicode White_Space plus the
/// information separators U+001C..U+001F, which Rust does not count as whitespace.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `s.split()` in Python: runs of whitespace separate, no empty tokens.
pub fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|t| !t.is_empty())
}

/// A multiplicative hash for small integer keys (n-grams of word ids): the default SipHash
/// costs more than the rest of BLEU/CIDEr together on 25k references.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // Multiplication only carries upwards, and the table indexes by the low bits: fold
        // the high bits down (murmur3's finaliser) or n-grams sharing low ids collide.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64);
        self.write_u64((v >> 64) as u64);
    }
}

pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// An n-gram of up to 4 word ids packed into one key, 32 bits per word. Ids are stored +1,
/// so an n-gram of order n fills exactly the low n slots: keys of different orders never
/// collide, and one map may hold all orders.
pub type Gram = u128;

/// Maps words to dense ids.
#[derive(Default)]
pub struct Vocab<'a> {
    ids: HashMap<&'a str, u32>,
}

impl<'a> Vocab<'a> {
    pub fn id(&mut self, word: &'a str) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(word).or_insert(next)
    }
    /// Python `split()` tokens of `s` as ids.
    pub fn split(&mut self, s: &'a str) -> Vec<u32> {
        py_split(s).map(|w| self.id(w)).collect()
    }
}

/// Candidates and references as id sequences, after checking the counts agree.
pub fn intern<'a>(cands: &'a [String], refs: &'a [Vec<String>], what: &str) -> Result<(Vec<Vec<u32>>, Vec<Vec<Vec<u32>>>)> {
    check_counts(cands.len(), refs, what)?;
    let mut vocab = Vocab::default();
    let c = cands.iter().map(|s| vocab.split(s)).collect();
    let r = refs.iter().map(|rs| rs.iter().map(|s| vocab.split(s)).collect()).collect();
    Ok((c, r))
}

pub fn check_counts<T>(n_cands: usize, refs: &[Vec<T>], what: &str) -> Result<()> {
    if n_cands != refs.len() {
        return Err(Error::other(format!("{what}: {n_cands} candidates but {} reference sets", refs.len())));
    }
    if let Some(i) = refs.iter().position(|r| r.is_empty()) {
        return Err(Error::other(format!("{what}: candidate {i} has no reference")));
    }
    Ok(())
}

/// Counts of every n-gram of order `1..=4`, one map per order (index `n - 1`).
pub fn ngram_counts(words: &[u32]) -> [IdMap<Gram, u32>; 4] {
    let mut maps: [IdMap<Gram, u32>; 4] = Default::default();
    for i in 0..words.len() {
        let mut key: Gram = 0;
        for (n, map) in maps.iter_mut().enumerate() {
            let Some(&w) = words.get(i + n) else { break };
            key |= ((w as u128) + 1) << (32 * n);
            *map.entry(key).or_insert(0) += 1;
        }
    }
    maps
}

/// All n-grams of order `1..=4` with their counts, sorted by key (merge-joins between two
/// sentences then need no hashing; a caption has only a few dozen n-grams).
pub fn ngram_vec(words: &[u32]) -> Vec<(Gram, u32)> {
    let mut grams: Vec<Gram> = Vec::with_capacity(4 * words.len());
    for i in 0..words.len() {
        let mut key: Gram = 0;
        for n in 0..4 {
            let Some(&w) = words.get(i + n) else { break };
            key |= ((w as u128) + 1) << (32 * n);
            grams.push(key);
        }
    }
    grams.sort_unstable();
    let mut out: Vec<(Gram, u32)> = Vec::with_capacity(grams.len());
    for g in grams {
        match out.last_mut() {
            Some((last, c)) if *last == g => *c += 1,
            _ => out.push((g, 1)),
        }
    }
    out
}

/// A caption's n-grams (as [`ngram_vec`] gives them) and its length in words.
pub struct Counted {
    pub grams: Vec<(Gram, u32)>,
    pub len: usize,
}

impl Counted {
    pub fn new(words: &[u32]) -> Self {
        Self { grams: ngram_vec(words), len: words.len() }
    }
}

/// Every caption of a corpus counted once (a sort per caption), shared by BLEU and
/// CIDEr-D instead of each counting again.
pub struct CountedCorpus {
    pub cands: Vec<Counted>,
    pub refs: Vec<Vec<Counted>>,
}

impl CountedCorpus {
    pub fn new(cands: &[Vec<u32>], refs: &[Vec<Vec<u32>>]) -> Self {
        Self { cands: cands.iter().map(|c| Counted::new(c)).collect(), refs: refs.iter().map(|rs| rs.iter().map(|r| Counted::new(r)).collect()).collect() }
    }
}

/// Order index (n - 1) of an n-gram key.
pub fn gram_order(g: Gram) -> usize {
    (127 - g.leading_zeros() as usize) / 32
}

/// `[N, L]` i64 ids with padding 0 → one id sequence per row (padding dropped).
pub fn rows_of(t: &Tensor, name: &str) -> Result<Vec<Vec<u32>>> {
    if t.dim() != 2 {
        return Err(Error::shape(format!("{name} must be [N, L] token ids, got {:?}", t.size())));
    }
    let (n, l) = (t.size()[0] as usize, t.size()[1] as usize);
    if l == 0 {
        return Ok(vec![Vec::new(); n]);
    }
    let flat = Vec::<i64>::try_from(t.to_kind(Kind::Int64).flatten(0, -1)).map_err(Error::from)?;
    let mut out = Vec::with_capacity(n);
    for row in flat.chunks(l) {
        let mut ids = Vec::with_capacity(l);
        for &v in row {
            if v < 0 || v >= u32::MAX as i64 {
                return Err(Error::shape(format!("{name}: token id {v} outside 0..2^32")));
            }
            if v != 0 {
                ids.push(v as u32);
            }
        }
        out.push(ids);
    }
    Ok(out)
}

/// `[N, R, L]` i64 reference ids → per candidate, its non-empty references.
pub fn ref_rows_of(t: &Tensor, name: &str) -> Result<Vec<Vec<Vec<u32>>>> {
    if t.dim() != 3 {
        return Err(Error::shape(format!("{name} must be [N, R, L] token ids, got {:?}", t.size())));
    }
    let (n, r) = (t.size()[0], t.size()[1]);
    let rows = rows_of(&t.reshape([n * r, -1]), name)?;
    Ok(rows.chunks(r.max(1) as usize).map(|c| c.iter().filter(|s| !s.is_empty()).cloned().collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_python() {
        assert_eq!(py_split("  a\tb\u{1f}c\u{a0}d  ").collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(py_split("").count(), 0);
    }

    #[test]
    fn counts_ngrams_of_each_order() {
        let m = ngram_counts(&[1, 2, 1, 2]);
        assert_eq!(m.iter().map(|x| x.values().sum::<u32>()).collect::<Vec<_>>(), [4, 3, 2, 1]);
        assert_eq!(m[1].len(), 2); // (1,2) twice, (2,1) once
        let v = ngram_vec(&[1, 2, 1, 2]);
        let mut per_order = [0u32; 4];
        v.iter().for_each(|&(g, c)| per_order[gram_order(g)] += c);
        assert_eq!(per_order, [4, 3, 2, 1]);
        assert!(v.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
