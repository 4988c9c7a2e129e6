//! CPU kernels of our own (csrc/), for the spots where libtorch's eager kernels are slow
//! at the shapes of small multimodal models, each a libtorch autograd function behind a C
//! ABI: [`attention`] (multi-head self-attention over short sequences), [`gelu`] and
//! [`layer_norm`].
//!
//! They run on float32 CPU tensors on AVX2 + FMA CPUs; `PLEXUS_CPU_KERNELS=libtorch`
//! switches them all off (libtorch's kernels then compute the same functions), e.g. for
//! comparisons. Each matches libtorch to float rounding (the tests beside each module).
//! Their backward passes are not differentiable: a `create_graph` backward through one is
//! an error (test), not a silently wrong second derivative.
pub mod attention;
pub mod gelu;
pub mod layer_norm;

use std::ffi::{c_char, c_void, CStr};
use std::sync::OnceLock;

use plexus_plugin::tch::{Device, Kind, Tensor};
use plexus_plugin::{Error, Result};

extern "C" {
    fn plexus_kernels_cpu_supported() -> i32;
    fn plexus_kernels_free_message(message: *mut c_char);
}

/// Whether the kernels run here at all: the CPU has AVX2 and FMA and
/// `PLEXUS_CPU_KERNELS` is not `libtorch`.
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        // SAFETY: a pure query of the CPU's features.
        let cpu = unsafe { plexus_kernels_cpu_supported() } == 1;
        cpu && std::env::var("PLEXUS_CPU_KERNELS").map_or(true, |v| v != "libtorch")
    })
}

/// Whether `t` is what the kernels compute on: a float32 tensor on the CPU.
fn is_cpu_f32(t: &Tensor) -> bool {
    t.device() == Device::Cpu && t.kind() == Kind::Float
}

/// Runs one C entry point that hands back a new tensor through its out-pointer, or an
/// error message (csrc/ffi.h's convention).
fn call(entry: impl FnOnce(*mut *mut c_void) -> *mut c_char) -> Result<Tensor> {
    let mut out: *mut c_void = std::ptr::null_mut();
    let message = entry(&mut out);
    if !message.is_null() {
        // SAFETY: a NUL-terminated malloc'd string from the C++ side, freed by its own call.
        let text = unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned();
        unsafe { plexus_kernels_free_message(message) };
        return Err(Error::other(text));
    }
    if out.is_null() {
        return Err(Error::other("a CPU kernel's entry point returned neither a tensor nor an error"));
    }
    // SAFETY: on success the C++ side stored a new heap `at::Tensor*` (tch's tensor handle),
    // which `Tensor::from_ptr` takes ownership of.
    Ok(unsafe { Tensor::from_ptr(out as *mut _) })
}
