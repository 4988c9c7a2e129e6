//! Bakes libtorch's folder into the library's and the test binaries' rpath, so they find
//! `libtorch_cpu.so` without LD_LIBRARY_PATH. DEP_TCH_LIBTORCH_LIB is set by torch-sys,
//! which is why Cargo.toml lists it as a direct dependency.
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
}
