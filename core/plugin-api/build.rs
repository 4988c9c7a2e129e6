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
    println!("cargo:rustc-env=PLEXUS_API_HASH={:016x}", api_hash(Path::new("src")));
    println!("cargo:rerun-if-changed=src");
    // rpath for this crate's own test binaries (as build/rpath.rs does elsewhere).
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
}

/// FNV-1a over every source file of this crate (sorted relative paths and contents): the
/// traits and structs that cross the plugin boundary can change layout without a version
/// bump, and a plugin built against other sources must then be refused, not loaded.
fn api_hash(src: &Path) -> u64 {
    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut all = Vec::new();
    files(src, &mut all);
    all.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in all {
        let bytes = path.to_string_lossy().into_owned().into_bytes().into_iter().chain(std::fs::read(&path).unwrap_or_default());
        for b in bytes {
            hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
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
