//! Bakes libtorch's folder into the rpath (the shared build/rpath.rs) and compiles the CPU
//! kernels (csrc/: short-sequence attention, GELU, LayerNorm) against the headers of the libtorch that
//! torch-sys links, with its C++ ABI.
#[path = "../../build/rpath.rs"]
mod rpath;

use std::path::PathBuf;

fn main() {
    rpath::main();
    let lib = PathBuf::from(std::env::var("DEP_TCH_LIBTORCH_LIB").expect("torch-sys exposes libtorch's lib folder as DEP_TCH_LIBTORCH_LIB"));
    let include = lib.parent().expect("libtorch's lib folder has a parent").join("include");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    let sources = [
        "csrc/kernels.cpp", "csrc/short_attention.cpp", "csrc/short_attention_kernels.cpp", "csrc/gelu.cpp", "csrc/gelu_kernels.cpp",
        "csrc/layer_norm.cpp", "csrc/layer_norm_kernels.cpp",
    ];
    cc::Build::new()
        .cpp(true)
        .files(sources)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", abi.as_str())
        // The kernels' speed is the point, debug build or not.
        .opt_level(3)
        // libtorch's own headers warn under newer compilers; our files are kept warning-free.
        .warnings(false)
        .compile("plexus_cpu_kernels");
    for file in sources.iter().chain(&["csrc/ffi.h", "csrc/avx2_math.h", "csrc/short_attention_kernels.h", "csrc/gelu_kernels.h", "csrc/layer_norm_kernels.h"]) {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
}
