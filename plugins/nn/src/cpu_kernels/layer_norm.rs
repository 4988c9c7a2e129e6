//! LayerNorm over the last dimension (csrc/layer_norm*.cpp): at the default CLIP towers'
//! widths (96, 64) libtorch's forward and backward took several times what their data
//! movement needs. Falls back to libtorch's `layer_norm` off the CPU, for other dtypes,
//! widths that are not a multiple of 8, or where the kernels are switched off
//! ([`super::enabled`]). The weight and bias gradients are summed over fixed blocks of
//! rows, so they do not depend on the thread count.
use std::ffi::{c_char, c_void};

use plexus_plugin::tch::Tensor;

extern "C" {
    fn plexus_layer_norm(x: *const c_void, weight: *const c_void, bias: *const c_void, eps: f64, out: *mut *mut c_void) -> *mut c_char;
}

/// `(x − μ) / √(σ² + eps) · weight + bias` over the last dimension, `[.., W]` → `[.., W]`,
/// with `weight` and `bias` `[W]`; differentiable once.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Tensor {
    let width = x.size().last().copied().unwrap_or(0);
    if width > 0 && width % 8 == 0 && [x, weight, bias].into_iter().all(super::is_cpu_f32) && super::enabled() {
        // SAFETY: the `as_ptr()`s are tch's live `at::Tensor*`s, read during the call only.
        let entry = |out| unsafe { plexus_layer_norm(x.as_ptr() as *const c_void, weight.as_ptr() as *const c_void, bias.as_ptr() as *const c_void, eps, out) };
        if let Ok(y) = super::call(entry) {
            return y;
        }
        // The checks above are the kernel's own but for the shapes of weight and bias;
        // libtorch's LayerNorm below computes the same function or reports the mismatch.
    }
    x.layer_norm([width], Some(weight), Some(bias), eps, true)
}

#[cfg(test)]
#[path = "layer_norm_tests.rs"]
mod tests;
