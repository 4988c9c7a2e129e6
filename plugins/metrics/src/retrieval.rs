//! Cross-modal retrieval by cosine similarity.
//!
//! Relevance: with `image_groups` `[N]` and `text_groups` `[M]`, text j is relevant to
//! image i when their groups are equal (e.g. class captions, or 5 captions per image);
//! without them, N must equal M and only pair (i, i) is relevant. A query's rank is the
//! number of items scored strictly above its best relevant item, so R@k = P(rank < k)
//! and MRR is the mean of 1 / (rank + 1).
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{Kind, Tensor};
use plexus_plugin::{Error, Metric, Result, Scores, TensorMap};

use crate::l2_normalize;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// Reported as `i2t_r{k}` and `t2i_r{k}`.
    pub ks: Vec<i64>,
    /// Queries scored per block; bounds memory to `chunk × items` similarities.
    pub chunk: i64,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self { ks: vec![1, 5, 10], chunk: 1024 }
    }
}

#[derive(Debug)]
pub struct Retrieval {
    cfg: RetrievalConfig,
}

impl Retrieval {
    pub fn new(cfg: &RetrievalConfig) -> Result<Self> {
        if cfg.chunk < 1 || cfg.ks.iter().any(|&k| k < 1) {
            return Err(Error::other("retrieval: chunk and every k must be >= 1"));
        }
        Ok(Self { cfg: cfg.clone() })
    }

    /// 0-based rank of the best relevant item for every query: `[Q]` i64.
    fn ranks(&self, queries: &Tensor, items: &Tensor, query_groups: &Tensor, item_groups: &Tensor) -> Result<Tensor> {
        let q = queries.size()[0];
        let mut out = Vec::new();
        let mut start = 0;
        while start < q {
            let len = self.cfg.chunk.min(q - start);
            let sims = queries.narrow(0, start, len).matmul(&items.tr()); // [len, M]
            let relevant = query_groups.narrow(0, start, len).unsqueeze(1).eq_tensor(&item_groups.unsqueeze(0)); // [len, M]
            if !bool::try_from(relevant.any_dim(1, false).all()).map_err(Error::from)? {
                return Err(Error::other("retrieval: a query has no relevant item (check the groups)"));
            }
            let best = sims.masked_fill(&relevant.logical_not(), f64::NEG_INFINITY).amax([1i64].as_slice(), true); // [len, 1]
            out.push(sims.gt_tensor(&best).sum_dim_intlist([1i64].as_slice(), false, Kind::Int64)); // [len]
            start += len;
        }
        Ok(Tensor::cat(&out, 0))
    }

    fn summarize(&self, prefix: &str, ranks: &Tensor, scores: &mut Scores) {
        for &k in &self.cfg.ks {
            let recall = ranks.lt(k).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
            scores.push((format!("{prefix}_r{k}"), recall));
        }
        let mrr = (ranks.to_kind(Kind::Double) + 1.0).reciprocal().mean(Kind::Double).double_value(&[]);
        scores.push((format!("{prefix}_mrr"), mrr));
    }
}

impl Metric for Retrieval {
    /// Inputs: `image_embeds` `[N, D]`, `text_embeds` `[M, D]`, optional `image_groups` `[N]`
    /// and `text_groups` `[M]` (i64). Outputs `i2t_r{k}`, `t2i_r{k}`, `i2t_mrr`, `t2i_mrr`.
    fn compute(&self, inputs: &TensorMap) -> Result<Scores> {
        let images = l2_normalize(inputs.get("image_embeds")?);
        let texts = l2_normalize(inputs.get("text_embeds")?);
        let (n, m) = (images.size()[0], texts.size()[0]);
        let (image_groups, text_groups) = match (inputs.get_opt("image_groups"), inputs.get_opt("text_groups")) {
            (Some(a), Some(b)) => (a.to_kind(Kind::Int64), b.to_kind(Kind::Int64)),
            (None, None) if n == m => {
                let ids = Tensor::arange(n, (Kind::Int64, images.device()));
                (ids.shallow_clone(), ids)
            }
            _ => {
                return Err(Error::other(format!(
                    "retrieval: give both image_groups and text_groups, or equal counts of images ({n}) and texts ({m})"
                )))
            }
        };
        if image_groups.size() != [n] || text_groups.size() != [m] || images.size()[1] != texts.size()[1] {
            return Err(Error::shape(format!(
                "retrieval: image_embeds {:?}, text_embeds {:?}, groups {:?}/{:?} do not agree",
                images.size(),
                texts.size(),
                image_groups.size(),
                text_groups.size()
            )));
        }
        let mut scores = Scores::new();
        self.summarize("i2t", &self.ranks(&images, &texts, &image_groups, &text_groups)?, &mut scores);
        self.summarize("t2i", &self.ranks(&texts, &images, &text_groups, &image_groups)?, &mut scores);
        Ok(scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::Device;

    #[test]
    fn ranks_match_a_hand_example() {
        // Image 0 is closest to text 0; image 1 is closest to text 0 but pairs with text 1.
        let images = Tensor::from_slice2(&[[1.0f32, 0.0], [1.0, 0.2]]);
        let texts = Tensor::from_slice2(&[[1.0f32, 0.0], [0.0, 1.0]]);
        let r = Retrieval::new(&RetrievalConfig { ks: vec![1, 2], chunk: 1 }).unwrap();
        let scores = r.compute(&TensorMap::new().with("image_embeds", &images).with("text_embeds", &texts)).unwrap();
        let get = |k: &str| scores.iter().find(|(n, _)| n == k).unwrap().1;
        assert_eq!(get("i2t_r1"), 0.5);
        assert_eq!(get("i2t_r2"), 1.0);
        assert_eq!(get("i2t_mrr"), 0.75);
        let _ = Device::Cpu;
    }
}
