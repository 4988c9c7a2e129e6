//! Evaluation metrics for plexus.
mod retrieval;
mod zero_shot;

use plexus_plugin::{Registrar, Result};

fn register(r: &mut Registrar) -> Result<()> {
    r.metric(
        "zero_shot",
        "Zero-shot top-k accuracy against class prompts, ensembled over caption templates",
        |_, cfg: &zero_shot::ZeroShotConfig| Ok(zero_shot::ZeroShot::new(cfg)),
    );
    r.metric(
        "retrieval",
        "Image↔text retrieval recall@k and MRR by cosine similarity, with optional relevance groups",
        |_, cfg: &retrieval::RetrievalConfig| retrieval::Retrieval::new(cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);

pub use retrieval::{Retrieval, RetrievalConfig};
pub use zero_shot::{ZeroShot, ZeroShotConfig};

use plexus_plugin::tch::Tensor;

/// Rows scaled to unit L2 norm: `[N, D]` → `[N, D]`.
pub(crate) fn l2_normalize(t: &Tensor) -> Tensor {
    t / t.norm_scalaropt_dim(2.0, [-1], true).clamp_min(1e-12)
}
