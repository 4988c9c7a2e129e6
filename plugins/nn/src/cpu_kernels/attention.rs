//! Multi-head self-attention for short sequences (csrc/short_attention*.cpp).
//!
//! libtorch's CPU `scaled_dot_product_attention` is tuned for long sequences: at the
//! lengths of CLIP-style towers on small images and captions (L = 16..17, head width 32)
//! its per-(batch, head) inner GEMMs ran at ~8 GFLOP/s, and splitting the packed
//! projection into q, k, v (forward) and concatenating their gradients (backward) copied
//! strided data on every layer. These kernels read q, k, v in place from the packed
//! in-projection output `[B, L, 3W]`, write the heads side by side `[B, L, W]`, and write
//! the gradient back as one packed `[B, L, 3W]`.
//!
//! Taken where [`applies`] says so: besides [`super::enabled`], a float32 CPU tensor,
//! 1 <= L <= 64 and a head width that is a multiple of 8 up to 128.
use std::ffi::{c_char, c_int, c_void};

use plexus_plugin::tch::Tensor;
use plexus_plugin::Result;

extern "C" {
    fn plexus_short_attention_max_len() -> c_int;
    fn plexus_short_attention_max_head_dim() -> c_int;
    fn plexus_short_attention(qkv: *const c_void, heads: i64, causal: c_int, out: *mut *mut c_void) -> *mut c_char;
}

/// Whether [`attention`] takes `qkv` `[B, L, 3W]` split into `heads` heads.
pub fn applies(qkv: &Tensor, heads: i64) -> bool {
    let Ok((_, len, packed)) = qkv.size3() else { return false };
    // SAFETY: constants.
    let (max_len, max_dim) = unsafe { (plexus_short_attention_max_len() as i64, plexus_short_attention_max_head_dim() as i64) };
    let fits = heads > 0 && packed % (3 * heads) == 0 && {
        let head_dim = packed / 3 / heads;
        head_dim % 8 == 0 && head_dim <= max_dim && (1..=max_len).contains(&len)
    };
    fits && super::is_cpu_f32(qkv) && super::enabled()
}

/// `softmax(q kᵀ / √D [+ causal mask]) v` per head, with q, k, v the three `[B, L, W]`
/// thirds of `qkv` `[B, L, 3W]` (heads of width D = W / heads side by side in each) →
/// `[B, L, W]`, heads side by side. Differentiable once. Call only where [`applies`].
pub fn attention(qkv: &Tensor, heads: i64, causal: bool) -> Result<Tensor> {
    // SAFETY: `qkv.as_ptr()` is tch's live `at::Tensor*`, read during the call only.
    super::call(|out| unsafe { plexus_short_attention(qkv.as_ptr() as *const c_void, heads, c_int::from(causal), out) })
}

#[cfg(test)]
#[path = "attention_tests.rs"]
mod tests;
