//! Records the toolchain facts that make up the plugin ABI fingerprint.
use std::path::Path;
use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().trim_start_matches("rustc ").to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PLEXUS_RUSTC_VERSION={version}");
    println!("cargo:rustc-env=PLEXUS_TARGET={}", std::env::var("TARGET").unwrap());
    println!("cargo:rustc-env=PLEXUS_TORCH_VERSION={}", torch_version());
    // rpath for this crate's own test binaries (as build/rpath.rs does elsewhere).
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
}

/// Reads `torch/version.py` next to the libtorch `lib` folder torch-sys linked against.
fn torch_version() -> String {
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else { return "unknown".into() };
    let version_py = Path::new(&lib).join("..").join("version.py");
    std::fs::read_to_string(version_py)
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("__version__ = "))
                .map(|v| v.trim_matches(|c| c == '\'' || c == '"'))
                // "2.11.0+cu130" and "2.11.0+cpu" share one C++ ABI.
                .map(|v| v.split('+').next().unwrap_or(v).to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
