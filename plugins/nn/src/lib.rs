//! Layers shared by the built-in plugins. Parameter names follow open_clip's
//! `transformer.py`, so that open_clip state dicts map one-to-one onto our VarStore paths.
pub mod cpu_kernels;
mod pool;
mod transformer;
mod vq;

pub use pool::Pool;
pub use transformer::{linear_replica, LayerNorm, ResidualAttentionBlock, Transformer, TransformerConfig};
pub use vq::{Quantized, VectorQuantizer, VqLossConfig};

use plexus_plugin::tch::Tensor;
use plexus_plugin::{Error, Result};

/// Checks that `t` has `rank` dims, naming `what` in the error.
pub fn expect_rank(t: &Tensor, rank: usize, what: &str) -> Result<Vec<i64>> {
    let size = t.size();
    if size.len() != rank {
        return Err(Error::shape(format!("{what}: expected a {rank}-d tensor, got shape {size:?}")));
    }
    Ok(size)
}
