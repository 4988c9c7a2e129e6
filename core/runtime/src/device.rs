//! Device selection. `--as-needed` linking drops libtorch_cuda.so from our binaries
//! (tch-rs #980), so CUDA is only visible after we load it ourselves.
use tch::Device;

use crate::error::{Error, Result};

/// Loads libtorch_cuda.so if it can be found; silently stays on CPU otherwise.
fn load_cuda_backend() {
    let candidates = [
        "libtorch_cuda.so".to_string(),
        format!("{}/libtorch_cuda.so", env!("PLEXUS_LIBTORCH_LIB")),
    ];
    for name in candidates {
        // SAFETY: loading libtorch's own CUDA backend; it is never unloaded.
        if let Ok(lib) = unsafe { libloading::os::unix::Library::open(Some(&name), libc::RTLD_NOW | libc::RTLD_GLOBAL) } {
            std::mem::forget(lib);
            return;
        }
    }
}

/// Parses `auto`, `cpu`, `cuda` or `cuda:N`. `auto` picks CUDA when available.
pub fn resolve(spec: &str) -> Result<Device> {
    let cuda = || {
        load_cuda_backend();
        tch::Cuda::is_available()
    };
    match spec {
        "auto" => Ok(if cuda() { Device::Cuda(0) } else { Device::Cpu }),
        "cpu" => Ok(Device::Cpu),
        s if s == "cuda" || s.starts_with("cuda:") => {
            let index: usize = s.strip_prefix("cuda:").unwrap_or("0").parse().map_err(|_| bad(s))?;
            if !cuda() {
                return Err(Error::Other(format!("device `{s}` requested but CUDA is not available (use `auto` or `cpu`)")));
            }
            Ok(Device::Cuda(index))
        }
        s => Err(bad(s)),
    }
}

fn bad(s: &str) -> Error {
    Error::Other(format!("device `{s}` is not one of auto, cpu, cuda, cuda:N"))
}

pub fn describe(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}"),
    }
}
