//! Multi-head self-attention for short sequences on the CPU (csrc/short_attention*.cpp).
//!
//! libtorch's CPU `scaled_dot_product_attention` is tuned for long sequences: at the
//! lengths of CLIP-style towers on small images and captions (L = 16..17, head width 32)
//! its per-(batch, head) inner GEMMs ran at ~8 GFLOP/s, and splitting the packed
//! projection into q, k, v (forward) and concatenating their gradients (backward) copied
//! strided data on every layer. The kernels here read q, k, v in place from the packed
//! in-projection output `[B, L, 3W]`, write the heads side by side `[B, L, W]`, and write
//! the gradient back as one packed `[B, L, 3W]`; a libtorch autograd function wraps them.
//!
//! Used when [`applies`] says so: a float32 CPU tensor, 1 <= L <= 64, head width a
//! multiple of 8 up to 128, an AVX2 + FMA CPU, and `PLEXUS_ATTENTION` not set to `sdpa`
//! (which forces libtorch's kernel, for comparisons). Results match
//! `scaled_dot_product_attention` to float rounding (tests below). Double backward is not
//! supported.
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use plexus_plugin::tch::{Device, Kind, Tensor};
use plexus_plugin::{Error, Result};

extern "C" {
    fn plexus_short_attention_max_len() -> c_int;
    fn plexus_short_attention_max_head_dim() -> c_int;
    fn plexus_short_attention_cpu_supported() -> c_int;
    fn plexus_short_attention(qkv: *const c_void, heads: i64, causal: c_int, out: *mut *mut c_void) -> *mut c_char;
    fn plexus_short_attention_free_message(message: *mut c_char);
}

/// Whether the kernels run on this machine at all: its CPU has AVX2 and FMA, and
/// `PLEXUS_ATTENTION=sdpa` does not ask for libtorch's kernel instead.
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        // SAFETY: a pure query of the CPU's features.
        let cpu = unsafe { plexus_short_attention_cpu_supported() } == 1;
        cpu && std::env::var("PLEXUS_ATTENTION").map_or(true, |v| v != "sdpa")
    })
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
    fits && qkv.device() == Device::Cpu && qkv.kind() == Kind::Float && enabled()
}

/// `softmax(q kᵀ / √D [+ causal mask]) v` per head, with q, k, v the three `[B, L, W]`
/// thirds of `qkv` `[B, L, 3W]` (heads of width D = W / heads side by side in each) →
/// `[B, L, W]`, heads side by side. Differentiable once. Call only where [`applies`].
pub fn attention(qkv: &Tensor, heads: i64, causal: bool) -> Result<Tensor> {
    let mut out: *mut c_void = std::ptr::null_mut();
    // SAFETY: `qkv.as_ptr()` is tch's live `at::Tensor*`; on success the C++ side hands us a
    // new heap `at::Tensor*`, which `Tensor::from_ptr` takes ownership of.
    let message = unsafe { plexus_short_attention(qkv.as_ptr() as *const c_void, heads, c_int::from(causal), &mut out) };
    if !message.is_null() {
        // SAFETY: a NUL-terminated malloc'd string from the C++ side, freed by its own call.
        let text = unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned();
        unsafe { plexus_short_attention_free_message(message) };
        return Err(Error::shape(text));
    }
    // SAFETY: see above; `out` is non-null when no message came back.
    Ok(unsafe { Tensor::from_ptr(out as *mut _) })
}

#[cfg(test)]
#[path = "short_attention_tests.rs"]
mod tests;
