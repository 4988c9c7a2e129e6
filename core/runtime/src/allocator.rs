//! glibc malloc settings for training loops.
//!
//! libtorch's CPU tensors come from glibc's malloc, which by default serves blocks above
//! a moving threshold with `mmap` and hands free memory at the top of the heap back to
//! the OS. A training step frees and re-allocates the same multi-megabyte activations
//! every step, so each step page-faults them in again: `perf` on the default CLIP step at
//! one thread put ~2.5 % of cycles in the kernel's page-fault and page-clearing code, and
//! `perf stat -e page-faults` counted 256 k faults for a `clip_train_step` run, 57 k with
//! these settings. Cost: the process keeps its peak heap until it exits (as PyTorch's CUDA
//! caching allocator does on the GPU); blocks of 32 MiB or more are still mapped and
//! returned one by one.

/// Blocks below this come from the heap (glibc's ceiling for the setting on 64-bit).
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the heap's top is returned to the OS only beyond this.
const TRIM_THRESHOLD: i32 = 1 << 30;

/// Environment variables through which a user tunes malloc; any of them set leaves
/// malloc as the user configured it.
const USER_SETTINGS: [&str; 3] = ["GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"];

/// Keeps freed heap memory for reuse (see the module docs); returns whether it applied
/// the settings (not on other C libraries, nor when the user tunes malloc).
pub fn retain_freed_memory() -> bool {
    if USER_SETTINGS.iter().any(|var| std::env::var_os(var).is_some()) {
        return false;
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Minor page faults of this thread so far.
    fn thread_faults() -> i64 {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage fills the struct it is given.
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) }, 0);
        usage.ru_minflt
    }

    /// Writes one byte per page of `block`; returns the faults that took.
    fn touch(block: &mut [std::mem::MaybeUninit<u8>]) -> i64 {
        let before = thread_faults();
        for page in block.iter_mut().step_by(4096) {
            page.write(1);
        }
        std::hint::black_box(&block);
        thread_faults() - before
    }

    /// Allocates `bytes` through malloc, touches every page, frees; returns the faults.
    fn touch_malloced(bytes: usize) -> i64 {
        let mut block: Vec<u8> = Vec::with_capacity(bytes);
        touch(block.spare_capacity_mut())
    }

    #[test]
    fn a_freed_activation_sized_block_is_reused_without_page_faults() {
        assert!(retain_freed_memory() || USER_SETTINGS.iter().any(|v| std::env::var_os(v).is_some()));
        let bytes = 8 << 20; // [128, 17, 192] f32 activations are 1.7 MB; 8 MB is well above them
        // The counter works: fresh anonymous pages fault on first write.
        // SAFETY: a private anonymous mapping, written within bounds, then unmapped.
        let fresh = unsafe {
            let at = libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            assert_ne!(at, libc::MAP_FAILED);
            let faults = touch(std::slice::from_raw_parts_mut(at.cast(), bytes));
            libc::munmap(at, bytes);
            faults
        };
        assert!(fresh >= 1000, "writing 2048 fresh pages should fault them in, took {fresh}");
        touch_malloced(bytes);
        let again = touch_malloced(bytes);
        // glibc's default maps such a block and unmaps it on free, or trims it: ~2048 faults again.
        assert!(again < 100, "the freed block was given back to the OS: {again} faults on reuse");
    }
}
