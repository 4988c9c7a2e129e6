//! Shared build script: bakes libtorch's folder into the rpath so binaries,
//! tests and plugins find `libtorch_cpu.so` without LD_LIBRARY_PATH, and exposes the
//! folder as `PLEXUS_LIBTORCH_LIB` (used to find libtorch_cuda.so at run time).
//! Needs `torch-sys` as a direct dependency (that is what exposes DEP_TCH_*).
pub fn main() {
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_default();
    if !lib.is_empty() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rustc-env=PLEXUS_LIBTORCH_LIB={lib}");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
}
