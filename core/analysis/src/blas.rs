//! OpenBLAS's own thread pool, which matters beyond this crate.
//!
//! Linking this crate puts `libopenblas` ahead of `libtorch_cpu` in a binary's symbol
//! lookup, so libtorch's BLAS calls land in OpenBLAS too. OpenBLAS then spins up one
//! thread per core next to libtorch's OpenMP pool, and on a 2-core machine the two pools
//! fight: the default CLIP experiment trained at 638 examples/s with OpenBLAS's default
//! threads and at 1,321 examples/s with one OpenBLAS thread (same binary, same 2 libtorch
//! threads, 20k examples).

use std::os::raw::c_int;

extern "C" {
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_num_threads() -> c_int;
}

/// Sets the number of OpenBLAS threads (process-wide).
pub fn set_blas_threads(n: usize) {
    // SAFETY: plain setter exported by libopenblas, which this crate links.
    unsafe { openblas_set_num_threads(n.max(1) as c_int) }
}

/// The current number of OpenBLAS threads.
pub fn blas_threads() -> usize {
    // SAFETY: plain getter exported by libopenblas.
    unsafe { openblas_get_num_threads() as usize }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thread_count_is_settable() {
        super::set_blas_threads(1);
        assert_eq!(super::blas_threads(), 1);
    }
}
