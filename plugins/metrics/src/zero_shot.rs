//! Zero-shot classification as in CLIP: each class is the normalised mean of its prompt
//! embeddings over all templates; an image's prediction is its most similar class.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{Kind, Tensor};
use plexus_plugin::{Error, Metric, Result, Scores, TensorMap};

use crate::l2_normalize;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct ZeroShotConfig {
    /// Reported as `zero_shot_top{k}` (fractions in [0, 1]).
    pub top_k: Vec<i64>,
}

impl Default for ZeroShotConfig {
    fn default() -> Self {
        Self { top_k: vec![1, 5] }
    }
}

#[derive(Debug)]
pub struct ZeroShot {
    top_k: Vec<i64>,
}

impl ZeroShot {
    pub fn new(cfg: &ZeroShotConfig) -> Self {
        Self { top_k: cfg.top_k.clone() }
    }
}

/// `[C, T, D]` per-template prompt embeddings (or `[C, D]`) → `[C, D]` unit class vectors.
pub fn class_prototypes(class_embeds: &Tensor) -> Result<Tensor> {
    match class_embeds.dim() {
        2 => Ok(l2_normalize(class_embeds)),
        3 => Ok(l2_normalize(&l2_normalize(class_embeds).mean_dim([1i64].as_slice(), false, Kind::Float))),
        _ => Err(Error::shape(format!("class_embeds must be [C, T, D] or [C, D], got {:?}", class_embeds.size()))),
    }
}

impl Metric for ZeroShot {
    /// Inputs: `image_embeds` `[N, D]`, `class_embeds` `[C, T, D]` or `[C, D]`, `labels` `[N]` i64.
    fn compute(&self, inputs: &TensorMap) -> Result<Scores> {
        let images = l2_normalize(inputs.get("image_embeds")?); // [N, D]
        let classes = class_prototypes(inputs.get("class_embeds")?)?; // [C, D]
        let labels = inputs.get("labels")?.to_kind(Kind::Int64); // [N]
        let (n, c) = (images.size()[0], classes.size()[0]);
        if labels.size() != [n] || images.size()[1] != classes.size()[1] {
            return Err(Error::shape(format!(
                "zero_shot: image_embeds {:?}, class_embeds {:?}, labels {:?} do not agree",
                images.size(),
                classes.size(),
                labels.size()
            )));
        }
        let logits = images.matmul(&classes.tr()); // [N, C]
        let mut scores = Scores::new();
        for &k in &self.top_k {
            if k < 1 || k > c {
                return Err(Error::other(format!("zero_shot: top_k {k} must lie in 1..={c} (number of classes)")));
            }
            let (_, top) = logits.topk(k, -1, true, true); // [N, k]
            let hit = top.eq_tensor(&labels.unsqueeze(1)).any_dim(1, false); // [N]
            scores.push((format!("zero_shot_top{k}"), hit.to_kind(Kind::Double).mean(Kind::Double).double_value(&[])));
        }
        Ok(scores)
    }
}
