//! An embedding-quality metric: how close images are to their own class's prompts.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{Kind, Tensor};
use plexus_plugin::{Error, Metric, Result, Scores, TensorMap};

/// Config of [`ClassAlignment`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct ClassAlignmentConfig {
    /// Prepended to the score names, to tell two instances apart in a summary.
    pub prefix: String,
}

impl Default for ClassAlignmentConfig {
    fn default() -> Self {
        Self { prefix: String::new() }
    }
}

#[derive(Debug)]
pub struct ClassAlignment {
    prefix: String,
}

impl ClassAlignment {
    pub fn new(cfg: &ClassAlignmentConfig) -> Result<Self> {
        Ok(Self { prefix: cfg.prefix.clone() })
    }
}

/// Rows scaled to unit length: `[N, D]` → `[N, D]`.
fn unit(t: &Tensor) -> Tensor {
    t / t.norm_scalaropt_dim(2.0, [-1], true).clamp_min(1e-12)
}

impl Metric for ClassAlignment {
    /// Inputs (what the host's evaluation passes): `image_embeds` `[N, D]`,
    /// `class_embeds` `[C, T, D]` (T prompts per class), `labels` `[N]` i64 in `[0, C)`.
    /// Scores: `{prefix}class_alignment`, the mean cosine between an image and its class
    /// prototype (the normalised mean of its prompts), and `{prefix}class_margin`, that
    /// minus the mean cosine to the other classes' prototypes.
    fn compute(&self, inputs: &TensorMap) -> Result<Scores> {
        let images = inputs.get("image_embeds")?;
        let classes = inputs.get("class_embeds")?;
        let labels = inputs.get("labels")?;
        let (n, c) = (images.size().first().copied().unwrap_or(0), classes.size().first().copied().unwrap_or(0));
        if images.dim() != 2 || classes.dim() != 3 || labels.size() != [n] || images.size()[1] != classes.size()[2] || n == 0 || c < 2 {
            return Err(Error::shape(format!(
                "expected image_embeds [N, D], class_embeds [C>=2, T, D], labels [N], got {:?}, {:?}, {:?}",
                images.size(),
                classes.size(),
                labels.size()
            )));
        }
        let labels = labels.to_kind(Kind::Int64);
        let (lo, hi) = (labels.min().int64_value(&[]), labels.max().int64_value(&[]));
        if lo < 0 || hi >= c {
            return Err(Error::shape(format!("labels span [{lo}, {hi}] but there are {c} classes")));
        }
        let prototypes = unit(&unit(classes).mean_dim([1i64].as_slice(), false, Kind::Float)); // [C, D]
        let cosine = unit(images).matmul(&prototypes.tr()); // [N, C]
        let own = cosine.gather(1, &labels.unsqueeze(1), false).squeeze_dim(1); // [N]
        let others = (cosine.sum_dim_intlist([1i64].as_slice(), false, Kind::Float) - &own) / (c - 1) as f64; // [N]
        let alignment = own.mean(Kind::Double).double_value(&[]);
        let margin = (own - others).mean(Kind::Double).double_value(&[]);
        Ok(vec![(format!("{}class_alignment", self.prefix), alignment), (format!("{}class_margin", self.prefix), margin)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::conformance;

    #[test]
    fn passes_the_conformance_kit() {
        let metric = ClassAlignment::new(&ClassAlignmentConfig::default()).unwrap();
        conformance::metric("class_alignment", &metric, &conformance::evaluation_inputs(10, 5, 2, 8)).assert_ok();
    }
}
