//! Exact (erf) GELU (csrc/gelu*.cpp): libtorch's forward and backward took ~5 % of a
//! one-thread training step of the default CLIP model; these do the same math in one
//! vectorised pass each. Falls back to libtorch's `gelu` off the CPU, for other dtypes, or
//! where the kernels are switched off ([`super::enabled`]).
use std::ffi::{c_char, c_void};

use plexus_plugin::tch::Tensor;

extern "C" {
    fn plexus_gelu(x: *const c_void, out: *mut *mut c_void) -> *mut c_char;
}

/// `x·Φ(x)` elementwise, `[..]` → `[..]`; differentiable once.
pub fn gelu(x: &Tensor) -> Tensor {
    if super::is_cpu_f32(x) && super::enabled() {
        // SAFETY: `x.as_ptr()` is tch's live `at::Tensor*`, read during the call only.
        if let Ok(y) = super::call(|out| unsafe { plexus_gelu(x.as_ptr() as *const c_void, out) }) {
            return y;
        }
        // The checks above are the kernel's own; were it to refuse anyway, libtorch's GELU
        // below computes the same function.
    }
    x.gelu("none")
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::{Device, Kind};

    #[test]
    fn matches_libtorch_gelu_in_value_and_gradient() {
        if !super::super::enabled() {
            eprintln!("skipped: this CPU lacks AVX2/FMA or PLEXUS_CPU_KERNELS=libtorch");
            return;
        }
        // 1037 elements: whole vectors and a tail; the far tails and zero included.
        let base = Tensor::randn([1037], (Kind::Float, Device::Cpu)) * 4.0;
        let _ = base.narrow(0, 0, 4).copy_(&Tensor::from_slice(&[-12.0f32, -0.0, 0.0, 15.0]));
        let upstream = Tensor::randn([1037], (Kind::Float, Device::Cpu));
        let ours_in = base.copy().set_requires_grad(true);
        let theirs_in = base.copy().set_requires_grad(true);
        let ours = gelu(&ours_in);
        let theirs = theirs_in.gelu("none");
        (&ours * &upstream).sum(Kind::Float).backward();
        (&theirs * &upstream).sum(Kind::Float).backward();
        let diff = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
        assert!(diff(&ours, &theirs) < 2e-6, "values differ by {}", diff(&ours, &theirs));
        assert!(diff(&ours_in.grad(), &theirs_in.grad()) < 2e-6, "gradients differ by {}", diff(&ours_in.grad(), &theirs_in.grad()));
        assert_eq!(ours.size(), vec![1037]);
    }

    #[test]
    fn other_dtypes_and_strided_inputs_give_libtorch_results() {
        let doubles = Tensor::randn([5, 7], (Kind::Double, Device::Cpu));
        assert_eq!((gelu(&doubles) - doubles.gelu("none")).abs().max().double_value(&[]), 0.0);
        let strided = Tensor::randn([6, 10], (Kind::Float, Device::Cpu)).transpose(0, 1);
        let diff = (gelu(&strided) - strided.gelu("none")).abs().max().double_value(&[]);
        assert!(diff < 2e-6, "a transposed input differs by {diff}");
    }
}
